import EBPFCollection
import EBPFELF
import EBPFELFFile
import Glibc
import Testing
import TestSupport

/// Every BPF object embedded in Debian's `libbpf-tools` binaries, read here and by libbpf
/// (`bpf_object__open_mem`, through testdata/tools/libbpf_view.c built against `libbpf-dev`) must
/// agree: program names, sections, types and expected attach types; map names, types, key and
/// value sizes, max entries and flags. The one documented difference is the naming of data-section
/// maps, which libbpf prefixes with a shortened object name (`5564e338.rodata`): the prefix is
/// dropped before comparing.
@Suite("libbpf-tools corpus", .checksFileDescriptorLeaks)
struct LibbpfToolsCorpusTests {
    static let toolsDirectory = "/usr/sbin"
    static let clang = "/opt/swift/usr/bin/clang"
    static let anchorTool = "/usr/sbin/biosnoop"
    static var available: Bool {
        access(anchorTool, R_OK) == 0 && access("/usr/include/bpf/libbpf.h", R_OK) == 0 && access(clang, X_OK) == 0
    }

    static func toolNames() -> [String] {
        guard let text = try? runSubprocess("/usr/bin/dpkg", ["-L", "libbpf-tools"]).text else { return [] }
        return text.split(separator: "\n").filter { $0.hasPrefix("/usr/sbin/") }.map(String.init).sorted()
    }

    /// The BPF objects inside a binary: each `\x7fELF` of class 64 and machine EM_BPF, cut to the
    /// end of its section header table.
    static func embeddedObjects(in bytes: [UInt8]) -> [[UInt8]] {
        var objects: [[UInt8]] = []
        var index = 1
        while index + 64 <= bytes.count {
            defer { index += 1 }
            guard bytes[index] == 0x7f, bytes[index + 1] == 0x45, bytes[index + 2] == 0x4c, bytes[index + 3] == 0x46,
                bytes[index + 4] == 2
            else { continue }
            let little = bytes[index + 5] == 1
            func read(_ offset: Int, _ size: Int) -> UInt64 {
                let range = (index + offset)..<(index + offset + size)
                let ordered = little ? Array(bytes[range].reversed()) : Array(bytes[range])
                return ordered.reduce(0) { $0 << 8 | UInt64($1) }
            }
            guard read(18, 2) == 247 else { continue }
            let end = read(40, 8) + read(60, 2) * read(58, 2)
            guard end <= UInt64(bytes.count - index) else { continue }
            objects.append(Array(bytes[index..<(index + Int(end))]))
        }
        return objects
    }

    static func ourView(_ spec: CollectionSpec) -> [String] {
        let programs = spec.programs.values.map { program in
            "program \(program.name) \(program.sectionName) \(program.type.rawValue) \(program.attachType?.rawValue ?? 0)"
        }
        let maps = spec.maps.values.map { map in
            "map \(map.name) \(map.type.rawValue) \(map.keySize) \(map.valueSize) \(map.maxEntries) \(map.flags.rawValue)"
        }
        return (programs + maps).sorted()
    }

    static func libbpfView(_ text: String) -> [String] {
        text.split(separator: "\n").map { line -> String in
            var words = line.split(separator: " ").map(String.init)
            // Data-section maps: "<object prefix>.rodata" becomes ".rodata".
            if words.first == "map", words.count > 1, let dot = words[1].firstIndex(of: "."), dot != words[1].startIndex {
                words[1] = String(words[1][dot...])
            }
            return words.joined(separator: " ")
        }.sorted()
    }

    @Test(.enabled(if: available, "needs Debian's libbpf-tools and libbpf-dev (apt-get install libbpf-tools libbpf-dev)"))
    func everyEmbeddedObjectMatchesLibbpf() throws {
        let helper = "/tmp/swift-ebpf-libbpf-view-\(getpid())"
        defer { unlink(helper) }
        let build = try runSubprocess(Self.clang, ["-O1", TestData.path("tools/libbpf_view.c"), "-lbpf", "-o", helper])
        try #require(build.status == 0, "building libbpf_view.c failed")
        let tools = Self.toolNames()
        try #require(tools.count >= 50, "expected libbpf-tools' 61 tools, found \(tools.count)")
        var objectCount = 0
        var differences: [String] = []
        for tool in tools {
            guard let binary = readFile(tool) else { continue }
            for (number, object) in Self.embeddedObjects(in: binary).enumerated() {
                objectCount += 1
                let path = "/tmp/swift-ebpf-corpus-\(getpid()).o"
                defer { unlink(path) }
                let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
                try #require(descriptor >= 0)
                let written = object.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                close(descriptor)
                try #require(written == object.count)
                let libbpf = try runSubprocess(helper, [path])
                let ours: [String]
                do {
                    ours = Self.ourView(try CollectionSpec(elfBytes: object))
                } catch {
                    differences.append("\(tool)#\(number): we fail: \(error)")
                    continue
                }
                guard libbpf.status == 0 else { continue }  // libbpf 1.1 cannot open it either
                let theirs = Self.libbpfView(libbpf.text)
                for line in Set(ours).symmetricDifference(theirs).sorted() {
                    differences.append("\(tool)#\(number): \(Set(ours).contains(line) ? "ours" : "libbpf"): \(line)")
                }
            }
        }
        #expect(objectCount >= 61, "found \(objectCount) embedded objects")
        #expect(differences.isEmpty, "\(differences.count) differences:\n\(differences.prefix(60).joined(separator: "\n"))")
    }
}
