import EBPFASM
import EBPFCollection
import EBPFELF
import EBPFELFFile
import Testing
import TestSupport

/// Truncated, bit-flipped and hand-damaged objects give typed errors, never a trap.
@Suite("Malformed objects", .checksFileDescriptorLeaks)
struct MalformedObjectTests {
    static let objects = TestData.objectNames()

    @Test(arguments: objects)
    func everyTruncationIsAnError(name: String) throws {
        let bytes = try #require(TestData.contents(name))
        // Every length would be slow in debug builds; a stride plus the last 64 lengths covers the
        // header, the section contents and the section header table at the end.
        var lengths = Set(stride(from: 0, to: bytes.count, by: max(1, bytes.count / 400)))
        lengths.formUnion(max(0, bytes.count - 64)..<bytes.count)
        for length in lengths.sorted() {
            #expect(throws: BPFObjectError.self, "\(name) cut to \(length) bytes") {
                try CollectionSpec(elfBytes: Array(bytes[0..<length]))
            }
        }
    }

    @Test(arguments: objects)
    func bitFlipsNeverTrap(name: String) throws {
        let bytes = try #require(TestData.contents(name))
        var generator = SplitMix(seed: UInt64(bytes.count))
        var failures = 0
        for _ in 0..<400 {
            var damaged = bytes
            for _ in 0..<(1 + Int(generator.next() % 4)) {
                let position = Int(generator.next() % UInt64(damaged.count))
                damaged[position] ^= UInt8(1) << (generator.next() % 8)
            }
            do {
                _ = try CollectionSpec(elfBytes: damaged)
            } catch {
                failures += 1
            }
        }
        // Flips in padding or debug info change nothing, but many flips must be noticed.
        #expect(failures > 0)
    }

    @Test func notABPFObject() {
        #expect(throws: BPFObjectError.notBPF(machine: 62)) { try CollectionSpec(elfFile: "/proc/self/exe") }
        #expect(throws: BPFObjectError.elf(.notELF)) { try CollectionSpec(elfBytes: [UInt8](repeating: 0x7f, count: 80)) }
    }

    @Test func handCraftedFunctionPointerIntoALddwIsRejected() throws {
        // isa_v4 loads a function address (src 4) whose target is the second half of a lddw.
        #expect(
            throws: BPFObjectError.callTargetNotFound(section: "socket", offset: 432, targetSection: "socket", targetOffset: 440)
        ) { try CollectionSpec(elfFile: TestData.path("isa_v4-el.o")) }
    }

    /// Damages one field of one section header and checks the error names it.
    @Test func damagedMapDefinitionSizeIsNamed() throws {
        let path = TestData.path("maps_legacy-el.o")
        let file = try ELFFile(path: path)
        var bytes = file.bytes
        // Give pid_seen a symbol size of 12, shorter than any bpf_map_def.
        let table = try #require(file.sections.first { $0.type == .symtab })
        let symbol = try #require(try file.symbols().first { $0.name == "pid_seen" })
        let sizeOffset = Int(table.offset) + symbol.index * 24 + 16
        bytes.replaceSubrange(sizeOffset..<(sizeOffset + 8), with: [12, 0, 0, 0, 0, 0, 0, 0])
        #expect(throws: BPFObjectError.unsupportedMapDefinition(section: "maps", symbol: "pid_seen", size: 12)) {
            try CollectionSpec(elfBytes: bytes)
        }
        // A symbol reaching past its section.
        bytes.replaceSubrange(sizeOffset..<(sizeOffset + 8), with: [0, 1, 0, 0, 0, 0, 0, 0])
        #expect(throws: BPFObjectError.symbolOutOfBounds(section: "maps", symbol: "pid_seen", offset: symbol.value, size: 256)) {
            try CollectionSpec(elfBytes: bytes)
        }
    }

    @Test func hugeBSSIsRefusedBeforeAllocating() throws {
        let file = try ELFFile(path: TestData.path("globals-el.o"))
        var bytes = file.bytes
        let bss = try #require(file.section(named: ".bss"))
        // sh_size of the .bss header: NOBITS costs no file space, so any size passes the ELF layer.
        let sizeField = Int(file.header.sectionHeaderOffset) + bss.index * 64 + 32
        let huge: UInt64 = 1 << 40
        bytes.replaceSubrange(sizeField..<(sizeField + 8), with: (0..<8).map { UInt8(truncatingIfNeeded: huge >> ($0 * 8)) })
        #expect(throws: BPFObjectError.dataTooLarge(section: ".bss", size: huge, limit: 64 << 20)) {
            try CollectionSpec(elfBytes: bytes)
        }
    }

    @Test func relocationInsideALddwIsNamed() throws {
        let file = try ELFFile(path: TestData.path("maps_legacy-el.o"))
        var bytes = file.bytes
        let relocations = try #require(file.sections.first { $0.type == .rel && $0.name == ".relkprobe/sys_execve" })
        let first = try #require(try file.relocations(in: relocations).first)
        let offsetField = Int(relocations.offset)
        let moved = first.offset + 8
        bytes.replaceSubrange(offsetField..<(offsetField + 8), with: (0..<8).map { UInt8(truncatingIfNeeded: moved >> ($0 * 8)) })
        #expect(throws: BPFObjectError.badRelocationOffset(section: "kprobe/sys_execve", offset: moved)) {
            try CollectionSpec(elfBytes: bytes)
        }
    }

    /// The trap `fuzz-collectionspec` found when seeded with libbpf-tools objects: a call's target
    /// symbol with a value above `Int64.max` (`Int64(symbol.value)` trapped in the object reader).
    @Test func callTargetSymbolAboveInt64MaxIsAnError() throws {
        let file = try ELFFile(path: TestData.path("subprog-el.o"))
        var bytes = file.bytes
        let table = try #require(file.sections.first { $0.type == .symtab })
        // The section symbol of .text, which the first call in 'socket' (offset 8) is relocated against.
        let text = try #require(file.section(named: ".text"))
        let symbol = try #require(try file.symbols().first { $0.kind == .section && $0.section == text.index })
        let valueOffset = Int(table.offset) + symbol.index * 24 + 8
        let huge: UInt64 = 0x8000_0000_0000_0000
        bytes.replaceSubrange(valueOffset..<(valueOffset + 8), with: (0..<8).map { UInt8(truncatingIfNeeded: huge >> ($0 * 8)) })
        #expect(
            throws: BPFObjectError.callTargetNotFound(
                section: "socket", offset: 8, targetSection: ".text", targetOffset: Int64(bitPattern: huge))
        ) { try CollectionSpec(elfBytes: bytes) }
    }

    /// A struct_ops member relocated against a section symbol whose value is above `Int64.max`
    /// (section symbols are not bounds-checked): `Int64(target.value)` in the error trapped.
    @Test func structOpsTargetSymbolAboveInt64MaxIsAnError() throws {
        let file = try ELFFile(path: TestData.path("struct_ops-el.o"))
        var bytes = file.bytes
        let table = try #require(file.sections.first { $0.type == .symtab })
        // demo_release, which .rel.struct_ops relocates the member at offset 8 against, becomes a
        // section symbol with a huge value.
        let symbol = try #require(try file.symbols().first { $0.name == "demo_release" })
        let targetSection = try #require(symbol.section)
        let entry = Int(table.offset) + symbol.index * 24
        bytes[entry + 4] = bytes[entry + 4] & 0xF0 | 3  // STT_SECTION
        let huge: UInt64 = 0x8000_0000_0000_0000
        bytes.replaceSubrange((entry + 8)..<(entry + 16), with: (0..<8).map { UInt8(truncatingIfNeeded: huge >> ($0 * 8)) })
        #expect(
            throws: BPFObjectError.callTargetNotFound(
                section: ".struct_ops", offset: 8, targetSection: file.sections[targetSection].displayName,
                targetOffset: Int64(bitPattern: huge))
        ) { try CollectionSpec(elfBytes: bytes) }
    }

    @Test func errorsDescribeWhereTheyAre() {
        let error = BPFObjectError.unsupportedRelocation(section: "xdp", offset: 16, symbol: "counter", reason: "map referenced by an instruction that is not lddw")
        #expect(error.description == "section 'xdp': offset 16: relocation against 'counter': map referenced by an instruction that is not lddw")
        #expect(BPFObjectError.badMapDefinition(map: "m", member: "type", reason: "x").description.contains("'.maps': map 'm': 'type'"))
    }
}

/// A small deterministic generator, so failures reproduce.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
