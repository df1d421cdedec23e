import EBPF
import Glibc
import Testing
import TestSupport

@testable import BPF2SwiftGenerator

/// The generated Swift structs have the size, alignment and member offsets clang gives the C types.
///
/// The expected values come from clang compiling a C program for the host (sizeof, _Alignof,
/// offsetof), not from the BTF the generator read; the actual ones from a Swift program compiled
/// with the generated declarations. Every struct, union, enum and typedef of an anonymous struct
/// in the object's BTF is checked, with the members of anonymous members it contains.
@Suite("bpf2swift: generated layouts match clang", .checksFileDescriptorLeaks)
struct LayoutTests {
    /// What to measure: a root type and an access path into it.
    struct Probe {
        /// The C type of the root (`struct padded`, `point_t`).
        var cRoot: String
        /// The Swift type of the root (`LayoutTypes.padded`).
        var swiftRoot: String
        /// Member path from the root (`pair.d`), empty for the root itself.
        var path: String
        /// Size and alignment are measured for roots and for anonymous composite members;
        /// offsets for every member that is not a bitfield.
        var measuresLayout: Bool
        var measuresOffset: Bool
        var label: String { path.isEmpty ? cRoot : cRoot + "." + path }
    }

    static func probes(in btf: BTFSpec) throws -> [Probe] {
        var probes: [Probe] = []
        func addMembers(of id: BTFTypeID, cRoot: String, swiftRoot: String, prefix: String) throws {
            guard case .struct(let composite) = try btf.type(id) else {
                if case .union(let composite) = try btf.type(id) { try add(composite) }
                return
            }
            try add(composite)
            func add(_ composite: BTFComposite) throws {
                for member in composite.members {
                    let resolved = try btf.underlyingTypeID(of: member.type)
                    let target = try btf.type(resolved)
                    let isComposite = target.kind == .struct || target.kind == .union
                    if member.name.isEmpty {
                        // C and the generated Swift both reach an anonymous member's members directly.
                        if isComposite { try addMembers(of: resolved, cRoot: cRoot, swiftRoot: swiftRoot, prefix: prefix) }
                        continue
                    }
                    let path = prefix.isEmpty ? member.name : prefix + "." + member.name
                    if member.bitfieldSize != 0 { continue }
                    if case .array(let array) = target, array.count == 0 { continue }
                    let anonymous = isComposite && target.name.isEmpty
                    probes.append(Probe(cRoot: cRoot, swiftRoot: swiftRoot, path: path, measuresLayout: anonymous, measuresOffset: true))
                    if anonymous { try addMembers(of: resolved, cRoot: cRoot, swiftRoot: swiftRoot, prefix: path) }
                }
            }
        }
        for index in 1..<btf.typeCount {
            let id = BTFTypeID(rawValue: index)
            let type = try btf.type(id)
            let cRoot: String
            var rootID = id
            switch type {
            case .struct(let composite) where !composite.name.isEmpty: cRoot = "struct " + composite.name
            case .union(let composite) where !composite.name.isEmpty: cRoot = "union " + composite.name
            case .enum(let enumeration) where !enumeration.name.isEmpty: cRoot = "enum " + enumeration.name
            case .typedef(let typedef):
                let target = try btf.type(typedef.type)
                guard target.name.isEmpty, target.kind == .struct || target.kind == .union else { continue }
                cRoot = typedef.name
                rootID = typedef.type
            default: continue
            }
            let swiftRoot = "LayoutTypes." + (cRoot.split(separator: " ").last.map(String.init) ?? cRoot)
            probes.append(Probe(cRoot: cRoot, swiftRoot: swiftRoot, path: "", measuresLayout: true, measuresOffset: false))
            try addMembers(of: rootID, cRoot: cRoot, swiftRoot: swiftRoot, prefix: "")
        }
        return probes
    }

    static func cProgram(_ probes: [Probe]) -> String {
        var text = "#include <stdio.h>\n#include <stddef.h>\n#include \"layout_types.h\"\n\nint main(void)\n{\n"
        for probe in probes {
            let expression = probe.path.isEmpty ? "(*(\(probe.cRoot) *)0)" : "(((\(probe.cRoot) *)0)->\(probe.path))"
            if probe.measuresLayout {
                text += "\tprintf(\"%s size %zu align %zu\\n\", \"\(probe.label)\", sizeof(\(expression)), _Alignof(__typeof__(\(expression))));\n"
            }
            if probe.measuresOffset {
                text += "\tprintf(\"%s offset %zu\\n\", \"\(probe.label)\", offsetof(\(probe.cRoot), \(probe.path)));\n"
            }
        }
        return text + "\treturn 0;\n}\n"
    }

    static func swiftProgram(_ probes: [Probe]) -> String {
        var text = """
            func firstNonzeroByte<T>(_ value: T) -> Int {
                withUnsafeBytes(of: value) { $0.firstIndex(where: { $0 != 0 }) ?? -1 }
            }
            func fillWithOnes<T>(_ value: inout T) {
                withUnsafeMutableBytes(of: &value) { bytes in for index in bytes.indices { bytes[index] = 1 } }
            }

            """
        for (index, probe) in probes.enumerated() {
            text += "do { // \(probe.label)\n"
            text += "    let root = \(probe.swiftRoot)()\n"
            let access = probe.path.isEmpty ? "root" : "root.\(probe.path)"
            if probe.measuresLayout {
                text += "    print(\"\(probe.label) size \\(MemoryLayout.size(ofValue: \(access))) align \\(MemoryLayout.alignment(ofValue: \(access)))\")\n"
            }
            if probe.measuresOffset {
                // Writing ones through the (stored or computed) property and finding the first changed
                // byte measures where the member lives, whichever way the generator declared it.
                text += "    var marked = root\n    var field\(index) = marked.\(probe.path)\n"
                text += "    fillWithOnes(&field\(index))\n    marked.\(probe.path) = field\(index)\n"
                text += "    print(\"\(probe.label) offset \\(firstNonzeroByte(marked))\")\n"
            }
            text += "}\n"
        }
        return text
    }

    @Test func everyGeneratedTypeHasClangsLayout() throws {
        let directory = try BPF2SwiftTestSupport.temporaryDirectory()
        defer { BPF2SwiftTestSupport.cleanUp(directory) }
        let source = BPF2SwiftTestSupport.bpfDirectory + "/layout.bpf.c"

        // Declare every named type, not only those of map keys and values.
        let objectPath = directory + "/objects/layout_bpfel.o"
        var arguments = ["-output-dir", directory, "-object-dir", directory + "/objects", "-target", "bpfel"]
        let firstRun = BPF2SwiftTestSupport.bpf2swift(arguments + ["Layout", source])
        #expect(firstRun.status == 0, "\(firstRun.messages)")
        let btf = try #require(try CollectionSpec(elfFile: objectPath).types)
        let probes = try Self.probes(in: btf)
        let typeNames = Set(probes.filter { $0.path.isEmpty }.map { $0.cRoot.split(separator: " ").last.map(String.init) ?? "" })
        #expect(typeNames.isSuperset(of: ["padded", "nested", "number", "with_union", "with_anonymous", "packed_header", "bitfields", "color", "with_enum", "point_t", "shapes", "flow_key", "flow_value"]))
        for name in typeNames.sorted() { arguments += ["-type", name] }
        let run = BPF2SwiftTestSupport.bpf2swift(arguments + ["-force", "Layout", source])
        try #require(run.status == 0, "\(run.messages)")

        // The C types block of the generated file compiles on its own (it needs only the standard library).
        let generated = String(decoding: try Files.read(directory + "/layout.swift"), as: UTF8.self)
        let start = try #require(generated.firstRange(of: "public enum LayoutTypes {"))
        let end = try #require(generated.firstRange(of: "// MARK: - Embedded object"))
        try BPF2SwiftTestSupport.write(String(generated[start.lowerBound..<end.lowerBound]), to: directory + "/types.swift")
        try BPF2SwiftTestSupport.write(Self.swiftProgram(probes), to: directory + "/main.swift")
        try BPF2SwiftTestSupport.write(Self.cProgram(probes), to: directory + "/layout.c")

        let clang = try BPF2SwiftTestSupport.tool("clang")
        let swiftc = try BPF2SwiftTestSupport.tool("swiftc")
        let cBuild = try runSubprocess(clang, ["-std=gnu11", "-I", BPF2SwiftTestSupport.bpfDirectory, "-o", directory + "/layout-c", directory + "/layout.c"])
        try #require(cBuild.status == 0)
        let swiftBuild = try runSubprocess(swiftc, ["-Onone", "-o", directory + "/layout-swift", directory + "/types.swift", directory + "/main.swift"])
        try #require(swiftBuild.status == 0)

        let expected = try runSubprocess(directory + "/layout-c", [])
        let actual = try runSubprocess(directory + "/layout-swift", [])
        #expect(expected.status == 0 && actual.status == 0)
        let expectedLines = expected.text.split(separator: "\n").map(String.init)
        let actualLines = actual.text.split(separator: "\n").map(String.init)
        #expect(expectedLines.count > 40, "too few probes: \(expectedLines.count)")
        #expect(expectedLines.count == actualLines.count)
        for (c, swift) in zip(expectedLines, actualLines) {
            #expect(c == swift, "clang says \(c), the generated Swift \(swift)")
        }
    }
}
