import EBPF
import Glibc
import Testing
import TestSupport

@testable import ebpf

/// `ebpf load --json` on every object of Debian's xdp-tools (libxdp's dispatcher, xdpdump, the
/// xdp-filter variants, whose maps are pinned by name and shared between objects, and the AF_XDP
/// default program): every program libbpf loads on its own (testdata/tools/libbpf_load_each.c,
/// built against libbpf-dev, pinning under a directory of its own) loads here too.
@Suite("xdp-tools loads", .checksFileDescriptorLeaks, .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
struct XDPToolsLoadTests {
    static let directory = "/usr/lib/x86_64-linux-gnu/bpf"

    static var available: Bool {
        access(directory + "/xdp-dispatcher.o", R_OK) == 0 && access("/usr/include/bpf/libbpf.h", R_OK) == 0
            && Toolchain.tool("clang") != nil
    }

    @Test(.enabled(if: available, "needs Debian's xdp-tools and libbpf-dev (apt-get install xdp-tools libbpf-dev)"))
    func everyProgramLibbpfLoadsLoadsHere() throws {
        let clang = try #require(Toolchain.tool("clang"))
        let helper = "/tmp/swift-ebpf-libbpf-load-each-xdp-\(getpid())"
        defer { unlink(helper) }
        let build = try runSubprocess(clang, ["-O1", TestData.path("tools/libbpf_load_each.c"), "-lbpf", "-o", helper])
        try #require(build.status == 0, "building libbpf_load_each.c failed: \(build.text)")
        let libbpfPins = "/sys/fs/bpf/swift-ebpf-issue13-xdp-libbpf-\(getpid())"
        let ourPins = "/sys/fs/bpf/swift-ebpf-issue13-xdp-ebpf-\(getpid())"
        try #require(mkdir(libbpfPins, 0o700) == 0 && mkdir(ourPins, 0o700) == 0, "mkdir in /sys/fs/bpf: errno \(errno)")
        defer {
            removeTree(libbpfPins)
            removeTree(ourPins)
        }
        let objects = try runSubprocess("/bin/ls", [Self.directory]).text.split(separator: "\n").filter { $0.hasSuffix(".o") }
        var libbpfLoaded = 0
        var loadedHere = 0
        var differences: [String] = []
        for object in objects.map({ Self.directory + "/" + $0 }) {
            let libbpf = try runSubprocess(helper, [object, libbpfPins])
            var lines: [String] = []
            var errors: [String] = []
            _ = EBPFTool.run(.load(path: object, json: true, pinPath: ourPins), output: { lines.append($0) }, errorOutput: { errors.append($0) })
            let ours = Self.statuses(json: lines.joined())
            for line in libbpf.text.split(separator: "\n") {
                let fields = line.split(separator: " ")
                guard fields.count == 2, fields[1] == "0" else { continue }
                libbpfLoaded += 1
                if ours[String(fields[0])] == 0 {
                    loadedHere += 1
                } else {
                    differences.append("\(object) \(fields[0]): \(lines.joined()) \(errors.joined(separator: " "))")
                }
            }
        }
        print("xdp-tools: libbpf loads \(libbpfLoaded) programs on their own, \(loadedHere) of them load with ebpf load --json")
        #expect(libbpfLoaded >= 14, "libbpf loaded only \(libbpfLoaded) programs")
        #expect(differences.isEmpty, "\(differences.joined(separator: "\n"))")
    }

    /// `{"a":0,"b":-13}` as a dictionary.
    static func statuses(json: String) -> [String: Int] {
        var result: [String: Int] = [:]
        for pair in json.trimmingCharacters(in: "{}").split(separator: ",") {
            let parts = pair.split(separator: ":")
            guard parts.count == 2, let status = Int(parts[1]) else { continue }
            result[String(parts[0].filter { $0 != "\"" })] = status
        }
        return result
    }
}

extension String {
    fileprivate func trimmingCharacters(in characters: String) -> Substring {
        var result = self[...]
        while let first = result.first, characters.contains(first) { result = result.dropFirst() }
        while let last = result.last, characters.contains(last) { result = result.dropLast() }
        return result
    }
}
