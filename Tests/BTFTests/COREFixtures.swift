import EBPFASM
import EBPFBTF
import EBPFELFFile
import Testing
import TestSupport

/// The CO-RE testdata objects and the committed kernel BTF they are relocated against.
enum COREFixtures {
    static let kernel61: BTFSpec? = try? BTFSpec(path: TestData.path("btf/vmlinux-6.1.btf"))
    static let kernel618: BTFSpec? = try? BTFSpec(path: TestData.path("btf/vmlinux-6.18.btf"))

    static func kernel(_ version: String) throws -> BTFSpec {
        try #require(version == "6.1" ? kernel61 : kernel618, "testdata/btf/vmlinux-\(version).btf parses")
    }

    /// One object: its BTF, its CO-RE records and the instructions of its code sections.
    struct Object {
        let spec: BTFSpec
        let ext: BTFExt
        let file: ELFFile
        let byteOrder: EBPFASM.ByteOrder

        init(_ name: String, _ suffix: String) throws {
            file = try ELFFile(path: TestData.path("\(name)-\(suffix).o"))
            let btf = try #require(file.section(named: ".BTF"))
            spec = try BTFSpec(bytes: try file.contents(of: btf))
            let extSection = try #require(file.section(named: ".BTF.ext"))
            ext = try BTFExt(bytes: try file.contents(of: extSection), spec: spec)
            byteOrder = suffix == "el" ? .littleEndian : .bigEndian
        }

        func instructions(_ section: String) throws -> [Instruction] {
            let found = try #require(file.section(named: section), "section \(section)")
            return try Instruction.decode(try file.contents(of: found), byteOrder: byteOrder)
        }

        func relocations(_ section: String) -> [BTFCoreRelocation] {
            ext.coreRelocations[section] ?? []
        }
    }

    static let orders = ["el", "eb"]
}

/// What a relocated instruction must look like.
enum ExpectedPatch: Equatable, CustomStringConvertible {
    /// A load or store with this offset and access size.
    case access(offset: Int16, size: AccessSize)
    /// An ALU instruction or lddw with this constant.
    case constant(Int64)
    /// Replaced by the invalid helper call.
    case poisoned

    var description: String {
        switch self {
        case .access(let offset, let size): "access at \(offset), \(size.byteCount) bytes"
        case .constant(let value): "constant \(value)"
        case .poisoned: "poisoned"
        }
    }

    func check(_ instruction: Instruction, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
        switch self {
        case .access(let offset, let size):
            #expect(instruction.offset == offset, "\(label)", sourceLocation: sourceLocation)
            #expect(instruction.opCode.size == size, "\(label): size", sourceLocation: sourceLocation)
        case .constant(let value):
            #expect(instruction.constant == value, "\(label)", sourceLocation: sourceLocation)
        case .poisoned:
            #expect(instruction == COREFixup.poisonInstruction, "\(label)", sourceLocation: sourceLocation)
        }
    }
}

extension COREFixtures {
    /// Relocates `section` of `object` against `kernel` and checks each relocated instruction
    /// against `expected`, keyed by "<kind> <access as C>". Every relocation must be expected.
    static func checkRelocations(
        _ object: Object, _ section: String, kernel: String, expected: [String: ExpectedPatch],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let target = try COREFixtures.kernel(kernel)
        let original = try object.instructions(section)
        let relocations = object.relocations(section)
        #expect(!relocations.isEmpty, sourceLocation: sourceLocation)
        let relocated = try CORE.relocate(
            instructions: original, relocations: relocations, localSpec: object.spec, targets: [target], program: section)
        #expect(relocated.slotCount == original.slotCount, sourceLocation: sourceLocation)
        let layout = RawOffsetMap(relocated)
        let relocator = CORERelocator(localSpec: object.spec, targets: [target])
        var seen: Set<String> = []
        for relocation in relocations {
            let key = "\(relocation.kind) \(relocator.accessDescription(of: relocation))"
            seen.insert(key)
            guard let want = expected[key] else {
                Issue.record("unexpected relocation \(key)", sourceLocation: sourceLocation)
                continue
            }
            let index = try #require(layout.index(ofByteOffset: Int(relocation.instructionOffset)), sourceLocation: sourceLocation)
            want.check(relocated[index], "\(key) on \(kernel) (\(object.byteOrder))", sourceLocation: sourceLocation)
        }
        #expect(seen == Set(expected.keys), sourceLocation: sourceLocation)
    }
}
