import EBPF
import Glibc
import Testing
import TestSupport

@testable import ebpf

@Suite("ebpf load", .checksFileDescriptorLeaks)
struct LoadCommandTests {
    @Test func parsesTheCommand() throws {
        #expect(try EBPFTool.parse(["load", "x.o"]) == .load(path: "x.o", json: false))
        #expect(try EBPFTool.parse(["load", "--json", "x.o"]) == .load(path: "x.o", json: true))
        #expect(throws: UsageError.missingArgument("OBJ")) { try EBPFTool.parse(["load"]) }
        #expect(throws: UsageError.unknownOption("--format")) { try EBPFTool.parse(["load", "x.o", "--format", "c"]) }
        #expect(
            try EBPFTool.parse(["load", "x.o", "--token-bpffs", "/mnt/bpf"]) == .load(path: "x.o", json: false, tokenFileSystem: "/mnt/bpf"))
        #expect(throws: UsageError.missingValue(option: "--token-bpffs")) { try EBPFTool.parse(["load", "x.o", "--token-bpffs"]) }
        #expect(try EBPFTool.parse(["load", "x.o"]) == .load(path: "x.o", json: false, pinPath: "/sys/fs/bpf"))
        #expect(try EBPFTool.parse(["load", "x.o", "--pin-path", "/sys/fs/bpf/app"]) == .load(path: "x.o", json: false, pinPath: "/sys/fs/bpf/app"))
        #expect(throws: UsageError.invalidValue(option: "--pin-path", value: "")) { try EBPFTool.parse(["load", "x.o", "--pin-path="]) }
        #expect(throws: UsageError.unknownOption("--token-bpffs")) { try EBPFTool.parse(["inspect", "x.o", "--token-bpffs", "/x"]) }
    }

    /// A real BPF token: `testdata/tools/token_userns.c` (built here with the toolchain's clang)
    /// runs `ebpf load` in a new user namespace, where nothing loads without a token, and gives it
    /// a BPF file system whose delegation the privileged parent set up. With `--token-bpffs` the
    /// object's BTF, its maps and its programs are created through the token.
    @Test(
        .enabled(if: Privileges.canAdminister, "needs root to set a BPF file system's delegation options"),
        .enabled(if: kernelHasBPFTokens, "needs BPF tokens (Linux 6.9, bpf_token_create in kallsyms)"))
    func loadsInAUserNamespaceThroughAToken() throws {
        let clang = try #require(Toolchain.tool("clang"), "the toolchain's clang")
        var template = Array("/tmp/swift-ebpf-token-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { buffer -> String? in
            guard let base = buffer.baseAddress, let result = mkdtemp(base) else { return nil }
            return String(cString: result)
        }
        let directory = try #require(created, "a temporary directory")
        defer {
            unlink(directory + "/token_userns")
            rmdir(directory)
        }
        let helper = directory + "/token_userns"
        let build = try runSubprocess(clang, ["-O1", TestData.path("tools/token_userns.c"), "-o", helper])
        let buildOutput = build.text
        try #require(build.status == 0, "building the helper: \(buildOutput)")
        let ebpf = try #require(builtExecutable("ebpf"))

        let object = TestData.path("globals-el.o")
        let withToken = try runSubprocess(helper, [ebpf, "load", "--json", "--token-bpffs", "{bpffs}", object])
        #expect(withToken.status == 0)
        #expect(withToken.text == #"{"count_packets":0}"# + "\n")

        // struct_ops maps and programs go through the token as well (tcp_ca's table is only
        // created, not registered: that needs a link).
        let structOps = try runSubprocess(helper, [ebpf, "load", "--json", "--token-bpffs", "{bpffs}", TestData.path("tcp_ca-el.o")])
        #expect(structOps.text == #"{"swift_ca_avoid":0,"swift_ca_init":0,"swift_ca_ssthresh":0,"swift_ca_undo":0}"# + "\n")

        // The same load in the same kind of namespace without the token is refused: the token is
        // what carried it.
        let withoutToken = try runSubprocess(helper, [ebpf, "load", "--json", object])
        #expect(withoutToken.status == 1)
        #expect(withoutToken.text == #"{"count_packets":-1}"# + "\n", "EPERM")
    }

    @Test(.enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
    func reportsEachProgramAsJSON() throws {
        var lines: [String] = []
        #expect(EBPFTool.run(.load(path: TestData.path("subprog-el.o"), json: true)) { lines.append($0) } == 0)
        #expect(lines == [#"{"calls_loop":0,"calls_subprograms":0}"#])
    }

    /// A map pinned by name (testdata/maps_btf.c's `pinned_lru`): pinned under --pin-path by the
    /// first load, which says so; reused by the next; an incompatible pin fails clearly.
    @Test(.enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
    func pinsMapsPinnedByName() throws {
        let directory = "/sys/fs/bpf/swift-ebpf-issue13-cli-\(getpid())"
        try #require(mkdir(directory, 0o700) == 0, "mkdir \(directory): errno \(errno)")
        defer { removeTree(directory) }
        let object = TestData.path("maps_btf-el.o")
        var lines: [String] = []
        var errors: [String] = []
        let first = EBPFTool.run(.load(path: object, json: true, pinPath: directory), output: { lines.append($0) }, errorOutput: { errors.append($0) })
        #expect(first == 0, "\(lines) \(errors)")
        #expect(lines == [#"{"record_execve":0}"#])
        #expect(errors == ["ebpf: pinned \(directory)/pinned_lru (left in place; remove it with rm)"])
        #expect(access(directory + "/pinned_lru", F_OK) == 0, "the pin outlives the command")

        lines = []
        #expect(EBPFTool.run(.load(path: object, json: false, pinPath: directory)) { lines.append($0) } == 0)
        #expect(lines.joined(separator: "\n").contains("record_execve: loaded"))
        #expect(!lines.joined(separator: "\n").contains("pinned "), "the existing pin is reused")

        // Another map in its place: a hash of other sizes under the same name.
        unlink(directory + "/pinned_lru")
        let other = try Map(spec: MapSpec(name: "pinned_lru", type: .hash, keySize: 4, valueSize: 4, maxEntries: 1))
        defer { try? other.close() }
        try other.pin(at: directory + "/pinned_lru")
        lines = []
        #expect(EBPFTool.run(.load(path: object, json: false, pinPath: directory)) { lines.append($0) } == 1)
        #expect(lines.joined(separator: "\n").contains("pinned_lru"), "\(lines)")
    }

    @Test(.enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
    func showsTheVerifierLogOfAFailure() throws {
        var lines: [String] = []
        #expect(EBPFTool.run(.load(path: TestData.path("isa_v3-el.o"), json: false)) { lines.append($0) } == 1)
        let text = lines.joined(separator: "\n")
        #expect(text.contains("isa_atomic: failed (-13)"))
        #expect(text.contains("R0 !read_ok"))
        #expect(text.contains("verifier log (last"))

        lines = []
        #expect(EBPFTool.run(.load(path: TestData.path("isa_v3-el.o"), json: true)) { lines.append($0) } == 1)
        #expect(lines.first?.contains(#""isa_atomic":-13"#) == true)
    }
}

/// Whether the kernel knows `BPF_TOKEN_CREATE` (Linux 6.9).
private let kernelHasBPFTokens: Bool = {
    guard let bytes = readFile("/proc/kallsyms") else { return false }
    return String(decoding: bytes, as: UTF8.self).contains(" bpf_token_create\n")
}()

/// An executable SwiftPM built next to the running test binary.
private func builtExecutable(_ name: String) -> String? {
    var buffer = [CChar](repeating: 0, count: 4096)
    let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard count > 0 else { return nil }
    var path = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    while let slash = path.lastIndex(of: "/") {
        path = String(path[..<slash])
        if access(path + "/" + name, X_OK) == 0 { return path + "/" + name }
        if path.isEmpty { break }
    }
    return nil
}
