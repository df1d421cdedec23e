import EBPFCollection
import EBPFELF
import Glibc
import Testing
import TestSupport

extension LoaderSuites {
/// The corpus check of issues 5 and 6: for every BPF object embedded in Debian's `libbpf-tools`,
/// each program that libbpf loads on its own on this kernel (testdata/tools/libbpf_load_each.c,
/// built against `libbpf-dev`) relocates and loads on its own with this loader too. Runs on the
/// host and, in the VM tier, on Debian's 6.1 kernel, whose structs differ from the host's.
@Suite("libbpf-tools loads", .checksFileDescriptorLeaks, .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
struct LibbpfToolsLoadTests {
    static let clang = "/opt/swift/usr/bin/clang"
    static var available: Bool {
        access("/usr/sbin/biosnoop", R_OK) == 0 && access("/usr/include/bpf/libbpf.h", R_OK) == 0 && access(clang, X_OK) == 0
    }

    @Test(.enabled(if: available, "needs Debian's libbpf-tools and libbpf-dev (apt-get install libbpf-tools libbpf-dev)"))
    func everyProgramLibbpfLoadsLoadsHere() throws {
        let helper = "/tmp/swift-ebpf-libbpf-load-each-\(getpid())"
        defer { unlink(helper) }
        let build = try runSubprocess(Self.clang, ["-O1", TestData.path("tools/libbpf_load_each.c"), "-lbpf", "-o", helper])
        try #require(build.status == 0, "building libbpf_load_each.c failed")
        let listing = try runSubprocess("/usr/bin/dpkg", ["-L", "libbpf-tools"]).text
        let tools = listing.split(separator: "\n").filter { $0.hasPrefix("/usr/sbin/") }.map(String.init).sorted()
        var compared = 0
        var libbpfLoaded = 0
        var differences: [String] = []
        for tool in tools {
            guard let binary = readFile(tool) else { continue }
            for (number, object) in embeddedBPFObjects(in: binary).enumerated() {
                let path = "/tmp/swift-ebpf-load-corpus-\(getpid()).o"
                defer { unlink(path) }
                let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
                try #require(descriptor >= 0)
                let written = object.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                close(descriptor)
                try #require(written == object.count)
                let libbpf = try runSubprocess(helper, [path])
                guard libbpf.status == 0 else { continue }
                let spec = try CollectionSpec(elfBytes: object)
                for line in libbpf.text.split(separator: "\n") {
                    let fields = line.split(separator: " ")
                    guard fields.count == 2, fields[1] == "0" else { continue }
                    libbpfLoaded += 1
                    let name = String(fields[0])
                    compared += 1
                    do throws(CollectionError) {
                        let collection = try LoadedCollection(spec: spec, selection: CollectionSelection(programs: [name]))
                        collection.close()
                    } catch {
                        differences.append("\(tool)#\(number) \(name): \(error)")
                    }
                }
            }
        }
        // Straight to the descriptor: in the VM, print's buffered line was cut off by the console.
        let summary = Array(
            "libbpf-tools on \(TestKernel.current.rawValue): libbpf loads \(libbpfLoaded) programs on their own, \(compared - differences.count) of them load here\n".utf8)
        _ = summary.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        #expect(libbpfLoaded > 100, "libbpf loaded only \(libbpfLoaded) programs")
        #expect(differences.isEmpty, "\(differences.count) of \(compared):\n\(differences.prefix(20).joined(separator: "\n"))")
    }
}
}

/// The BPF objects inside a binary: each 64-bit `\x7fELF` of machine EM_BPF (little-endian),
/// cut to the end of its section header table.
func embeddedBPFObjects(in bytes: [UInt8]) -> [[UInt8]] {
    var objects: [[UInt8]] = []
    var index = 1
    func read(_ offset: Int, _ size: Int) -> UInt64 {
        (0..<size).reduce(UInt64(0)) { $0 | UInt64(bytes[index + offset + $1]) << UInt64($1 * 8) }
    }
    while index + 64 <= bytes.count {
        defer { index += 1 }
        guard bytes[index] == 0x7f, bytes[index + 1] == 0x45, bytes[index + 2] == 0x4c, bytes[index + 3] == 0x46,
            bytes[index + 4] == 2, bytes[index + 5] == 1, read(18, 2) == 247
        else { continue }
        let end = read(40, 8) &+ read(60, 2) &* read(58, 2)
        guard end <= UInt64(bytes.count - index) else { continue }
        objects.append(Array(bytes[index..<(index + Int(end))]))
    }
    return objects
}
