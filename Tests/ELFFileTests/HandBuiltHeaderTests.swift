import EBPFELFFile
import Testing
import TestSupport

@Suite("hand-built files", .checksFileDescriptorLeaks)
struct HandBuiltHeaderTests {
    static let orders: [ELFByteOrder] = [.littleEndian, .bigEndian]

    /// A valid file with a string table, a symbol table, code, a REL section and a note.
    static func sample(_ order: ELFByteOrder) -> ELFBuilder {
        var builder = ELFBuilder(byteOrder: order)
        let strings: [UInt8] = [0] + Array("prog\0".utf8)
        var symbols = builder.symbol(name: 0, info: 0, sectionIndex: 0)
        symbols += builder.symbol(name: 1, info: 0x12, sectionIndex: 3, value: 0, size: 16)  // GLOBAL FUNC
        var rel = builder.encode(UInt64(8))
        rel += builder.encode(UInt64(1) << 32 | 10)
        var note = builder.encode(UInt32(4)) + builder.encode(UInt32(3)) + builder.encode(UInt32(7))
        note += Array("GNU\0".utf8) + [1, 2, 3, 0]
        builder.sections = [
            .init(name: ".strtab", type: .strtab, contents: strings),                                 // 1
            .init(name: ".symtab", type: .symtab, contents: symbols, link: 1, alignment: 8, entrySize: 24),  // 2
            .init(name: "prog", type: .progbits, contents: [UInt8](repeating: 0, count: 16), flags: 6),  // 3
            .init(name: ".relprog", type: .rel, contents: rel, link: 2, info: 3, alignment: 8, entrySize: 16),  // 4
            .init(name: ".note.test", type: .note, contents: note, alignment: 4),                     // 5
            .init(name: ".bss", type: .nobits, flags: 3, size: 1 << 40),                            // 6
        ]
        return builder
    }

    @Test("the sample parses", arguments: orders)
    func sampleParses(order: ELFByteOrder) throws {
        let file = try ELFFile(bytes: Self.sample(order).build())
        #expect(file.sections.map(\.name) == ["", ".strtab", ".symtab", "prog", ".relprog", ".note.test", ".bss", ".shstrtab"])
        let symbols = try file.symbols()
        #expect(symbols.map(\.name) == ["", "prog"])
        #expect(symbols[1].binding == .global)
        #expect(symbols[1].kind == .func)
        #expect(symbols[1].section == 3)
        let relocations = try file.relocations(in: try #require(file.section(named: ".relprog")))
        #expect(relocations == [ELFRelocation(offset: 8, symbolIndex: 1, type: 10, addend: 0)])
        let notes = try file.notes(in: try #require(file.section(named: ".note.test")))
        #expect(notes == [ELFNote(name: "GNU", type: 7, descriptor: [1, 2, 3])])
        let bss = try #require(file.section(named: ".bss"))
        #expect(try file.contents(of: bss).isEmpty)
    }

    /// The bytes of the sample with `edit` applied, parsed; returns the error.
    static func error(_ order: ELFByteOrder, _ edit: (inout [UInt8]) -> Void) -> ELFError? {
        var bytes = sample(order).build()
        edit(&bytes)
        return exerciseReader(bytes)
    }

    static func sectionHeader(_ bytes: [UInt8], _ order: ELFByteOrder, _ index: Int) -> Int {
        let reader = ByteReader(bytes: bytes, byteOrder: order)
        let tableOffset = (try? reader.readU64(at: 40)) ?? 0
        return Int(tableOffset) + index * 64
    }

    @Test("identification and header errors", arguments: orders)
    func headerErrors(order: ELFByteOrder) {
        #expect(Self.error(order) { $0[1] = 0x46 } == .notELF)
        #expect(Self.error(order) { $0[4] = 1 } == .unsupportedClass(1))
        #expect(Self.error(order) { $0[5] = 0 } == .badByteOrder(0))
        #expect(Self.error(order) { $0[6] = 2 } == .unsupportedVersion(field: "e_ident[EI_VERSION]", version: 2))
        #expect(Self.error(order) { $0.write(UInt32(2), at: 20, order) } == .unsupportedVersion(field: "e_version", version: 2))
        #expect(Self.error(order) { $0.write(UInt16(52), at: 52, order) } == .badHeaderSize(52))
        #expect(
            Self.error(order) { $0.write(UInt16(40), at: 58, order) }
                == .badEntrySize(section: "section header table (e_shentsize)", entrySize: 40, expected: 64))
        #expect(
            Self.error(order) {
                $0.write(UInt16(1), at: 56, order)
                $0.write(UInt16(32), at: 54, order)
            } == .badEntrySize(section: "program header table (e_phentsize)", entrySize: 32, expected: 56))
        #expect(ELFFile.parseError([]) == .truncated(what: "ELF identification", offset: 0, needed: 16, available: 0))
        #expect(ELFFile.parseError([0x7F, 0x45, 0x4C, 0x46, 2, 1, 1]) == .truncated(what: "ELF identification", offset: 0, needed: 16, available: 7))
    }

    @Test("table and section bounds", arguments: orders)
    func boundsErrors(order: ELFByteOrder) {
        let size = Self.sample(order).build().count
        #expect(
            Self.error(order) { $0.write(UInt64(size - 64), at: 40, order) }
                == .tableOutOfBounds(table: "section header table", offset: UInt64(size - 64), count: 8, entrySize: 64, fileSize: size))
        #expect(
            Self.error(order) { $0.write(UInt64.max - 10, at: 40, order) }
                == .tableOutOfBounds(table: "section header table", offset: UInt64.max - 10, count: 8, entrySize: 64, fileSize: size))
        // Section 0 is read at an offset just below Int.max: no arithmetic may overflow.
        #expect(
            Self.error(order) {
                $0.write(UInt16(0), at: 60, order)
                $0.write(UInt64(Int.max - 20), at: 40, order)
            } == .tableOutOfBounds(table: "section header table", offset: UInt64(Int.max - 20), count: 1, entrySize: 64, fileSize: size))
        #expect(
            Self.error(order) {
                $0.write(UInt16(3), at: 56, order)
                $0.write(UInt16(56), at: 54, order)
                $0.write(UInt64(size - 100), at: 32, order)
            } == .tableOutOfBounds(table: "program header table", offset: UInt64(size - 100), count: 3, entrySize: 56, fileSize: size))
        #expect(
            Self.error(order) { bytes in
                let prog = Self.sectionHeader(bytes, order, 3)
                bytes.write(UInt64(size), at: prog + 24, order)
            } == .sectionOutOfBounds(section: "prog", offset: UInt64(size), size: 16, fileSize: size))
        #expect(
            Self.error(order) { bytes in
                let prog = Self.sectionHeader(bytes, order, 3)
                bytes.write(UInt64(8), at: prog + 24, order)
                bytes.write(UInt64.max, at: prog + 32, order)
            } == .sectionOutOfBounds(section: "prog", offset: 8, size: UInt64.max, fileSize: size))
    }

    @Test("section name table errors", arguments: orders)
    func nameTableErrors(order: ELFByteOrder) {
        #expect(Self.error(order) { $0.write(UInt16(8), at: 62, order) } == .badSectionIndex(what: "e_shstrndx", index: 8, sectionCount: 8))
        #expect(Self.error(order) { $0.write(UInt16(0xFF00), at: 62, order) } == .badSectionIndex(what: "e_shstrndx", index: 0xFF00, sectionCount: 8))
        #expect(Self.error(order) { $0.write(UInt16(3), at: 62, order) } == .badSectionType(section: "section #3", type: .progbits, expected: .strtab))
        #expect(
            Self.error(order) { bytes in
                let names = Self.sectionHeader(bytes, order, 7)
                let offset = Int((try? ByteReader(bytes: bytes, byteOrder: order).readU64(at: names + 24)) ?? 0)
                let length = Int((try? ByteReader(bytes: bytes, byteOrder: order).readU64(at: names + 32)) ?? 0)
                bytes[offset + length - 1] = 0x41
            } == .unterminatedStringTable(table: "section name table (#7)"))
        #expect(
            Self.error(order) { bytes in
                bytes.write(UInt32(5000), at: Self.sectionHeader(bytes, order, 3), order)
            } == .badStringIndex(table: "section name table (#7)", index: 5000))
        // No name table at all: names are empty, the file is still valid.
        let unnamed = Self.error(order) { $0.write(UInt16(0), at: 62, order) }
        #expect(unnamed == nil)
    }

    @Test("symbol table errors", arguments: orders)
    func symbolErrors(order: ELFByteOrder) {
        #expect(
            Self.error(order) { bytes in
                bytes.write(UInt64(16), at: Self.sectionHeader(bytes, order, 2) + 56, order)
            } == .badEntrySize(section: ".symtab", entrySize: 16, expected: 24))
        #expect(
            Self.error(order) { bytes in
                bytes.write(UInt64(40), at: Self.sectionHeader(bytes, order, 2) + 32, order)
            } == .badSectionSize(section: ".symtab", size: 40, entrySize: 24))
        #expect(
            Self.error(order) { bytes in
                bytes.write(UInt32(42), at: Self.sectionHeader(bytes, order, 2) + 40, order)
            } == .badSectionIndex(what: ".symtab sh_link", index: 42, sectionCount: 8))
        #expect(
            Self.error(order) { bytes in
                bytes.write(UInt32(3), at: Self.sectionHeader(bytes, order, 2) + 40, order)
            } == .badSectionType(section: "prog", type: .progbits, expected: .strtab))
        #expect(
            Self.error(order) { bytes in
                // Symbol 1's st_name points past the string table.
                let symtab = Self.sectionHeader(bytes, order, 2)
                let offset = Int((try? ByteReader(bytes: bytes, byteOrder: order).readU64(at: symtab + 24)) ?? 0)
                bytes.write(UInt32(6), at: offset + 24, order)
            } == .badStringIndex(table: ".strtab", index: 6))
        #expect(
            Self.error(order) { bytes in
                let symtab = Self.sectionHeader(bytes, order, 2)
                let offset = Int((try? ByteReader(bytes: bytes, byteOrder: order).readU64(at: symtab + 24)) ?? 0)
                bytes.write(UInt16(77), at: offset + 24 + 6, order)
            } == .badSectionIndex(what: "symbol 1 in .symtab", index: 77, sectionCount: 8))
        #expect(
            Self.error(order) { bytes in
                let symtab = Self.sectionHeader(bytes, order, 2)
                let offset = Int((try? ByteReader(bytes: bytes, byteOrder: order).readU64(at: symtab + 24)) ?? 0)
                bytes.write(UInt16(0xFFFF), at: offset + 24 + 6, order)
            } == .badSectionIndex(what: "symbol 1 in .symtab (SHN_XINDEX without SHT_SYMTAB_SHNDX)", index: 0xFFFF, sectionCount: 8))
    }

    @Test("relocation errors", arguments: orders)
    func relocationErrors(order: ELFByteOrder) {
        #expect(
            Self.error(order) { bytes in
                bytes.write(UInt64(24), at: Self.sectionHeader(bytes, order, 4) + 56, order)
            } == .badEntrySize(section: ".relprog", entrySize: 24, expected: 16))
        #expect(
            Self.error(order) { bytes in
                bytes.write(ELFSectionType.rela.rawValue, at: Self.sectionHeader(bytes, order, 4) + 4, order)
            } == .badEntrySize(section: ".relprog", entrySize: 16, expected: 24))
        #expect(
            Self.error(order) { bytes in
                let rel = Self.sectionHeader(bytes, order, 4)
                let offset = Int((try? ByteReader(bytes: bytes, byteOrder: order).readU64(at: rel + 24)) ?? 0)
                bytes.write(UInt64(2) << 32 | 1, at: offset + 8, order)
            } == .badSymbolIndex(section: ".relprog", relocation: 0, symbolIndex: 2, symbolCount: 2))
        #expect(
            Self.error(order) { bytes in
                bytes.write(UInt32(0), at: Self.sectionHeader(bytes, order, 4) + 40, order)
            } == .badSymbolIndex(section: ".relprog", relocation: 0, symbolIndex: 1, symbolCount: 0))
        #expect(
            Self.error(order) { bytes in
                bytes.write(UInt32(3), at: Self.sectionHeader(bytes, order, 4) + 40, order)
            } == .badSectionType(section: "prog", type: .progbits, expected: .symtab))
        #expect(
            Self.error(order) { bytes in
                bytes.write(UInt32(99), at: Self.sectionHeader(bytes, order, 4) + 44, order)
            } == .badSectionIndex(what: ".relprog sh_info", index: 99, sectionCount: 8))
    }

    @Test("note errors", arguments: orders)
    func noteErrors(order: ELFByteOrder) {
        func noteOffset(_ bytes: [UInt8]) -> Int {
            let note = Self.sectionHeader(bytes, order, 5)
            return Int((try? ByteReader(bytes: bytes, byteOrder: order).readU64(at: note + 24)) ?? 0)
        }
        #expect(
            Self.error(order) { bytes in
                bytes.write(UInt32(5), at: noteOffset(bytes) + 4, order)
            } == .badNote(section: ".note.test", offset: 0, nameSize: 4, descriptorSize: 5))
        #expect(
            Self.error(order) { bytes in
                bytes.write(UInt32.max, at: noteOffset(bytes), order)
            } == .badNote(section: ".note.test", offset: 0, nameSize: UInt32.max, descriptorSize: 3))
        #expect(
            Self.error(order) { bytes in
                bytes.write(UInt64(8), at: Self.sectionHeader(bytes, order, 5) + 32, order)
            } == .truncated(what: "note header in .note.test", offset: 0, needed: 12, available: 8))
    }

    @Test("extended section count, name index and program header count through section 0", arguments: orders)
    func extendedNumbering(order: ELFByteOrder) throws {
        var bytes = Self.sample(order).build()
        let zero = Self.sectionHeader(bytes, order, 0)
        bytes.write(UInt16(0), at: 60, order)            // e_shnum = 0: count in sh_size
        bytes.write(UInt64(8), at: zero + 32, order)
        bytes.write(UInt16(0xFFFF), at: 62, order)       // e_shstrndx = SHN_XINDEX: index in sh_link
        bytes.write(UInt32(7), at: zero + 40, order)
        let file = try ELFFile(bytes: bytes)
        #expect(file.header.sectionHeaderCount == 8)
        #expect(file.header.sectionNameTableIndex == 7)
        #expect(file.sections.last?.name == ".shstrtab")

        // PN_XNUM with section 0's sh_info = 0: no program headers.
        bytes.write(UInt16(0xFFFF), at: 56, order)
        bytes.write(UInt16(56), at: 54, order)
        #expect(try ELFFile(bytes: bytes).programHeaders.isEmpty)
        // sh_info = 2 program headers at offset 0 overlap the header, which is allowed.
        bytes.write(UInt32(2), at: zero + 44, order)
        #expect(try ELFFile(bytes: bytes).programHeaders.count == 2)

        // A count far beyond the file.
        bytes.write(UInt64(1) << 60, at: zero + 32, order)
        #expect(
            ELFFile.parseError(bytes)
                == .tableOutOfBounds(table: "section header table", offset: UInt64(zero), count: 1 << 60, entrySize: 64, fileSize: bytes.count))
    }

    @Test("SHN_XINDEX symbols resolve through SHT_SYMTAB_SHNDX", arguments: orders)
    func extendedSymbolIndex(order: ELFByteOrder) throws {
        var builder = Self.sample(order)
        var symbols = builder.symbol(name: 0, info: 0, sectionIndex: 0)
        symbols += builder.symbol(name: 1, info: 0x12, sectionIndex: 0xFFFF, size: 16)
        builder.sections[1].contents = symbols
        builder.sections.append(
            .init(name: ".symtab_shndx", type: .symtabSectionIndices, contents: builder.encode(UInt32(0)) + builder.encode(UInt32(3)),
                  link: 2, alignment: 4, entrySize: 4))
        let file = try ELFFile(bytes: builder.build())
        let symbol = try file.symbols()[1]
        #expect(symbol.sectionIndex == 0xFFFF)
        #expect(symbol.section == 3)

        builder.sections[6].contents = builder.encode(UInt32(0)) + builder.encode(UInt32(300))
        #expect(
            exerciseReader(builder.build())
                == .badSectionIndex(what: "symbol 1 in .symtab", index: 300, sectionCount: 9))
        builder.sections[6].contents = builder.encode(UInt32(0))
        #expect(exerciseReader(builder.build()) == .badSectionSize(section: ".symtab_shndx", size: 4, entrySize: 4))
    }

    @Test("no section header table")
    func noSectionTable() throws {
        var bytes = Self.sample(.littleEndian).build()
        bytes.write(UInt64(0), at: 40)
        bytes.write(UInt16(0), at: 62)
        let file = try ELFFile(bytes: bytes)
        #expect(file.sections.isEmpty)
        #expect(try file.symbols().isEmpty)
        bytes.write(UInt16(3), at: 62)
        #expect(ELFFile.parseError(bytes) == .badSectionIndex(what: "e_shstrndx", index: 3, sectionCount: 0))
    }

    @Test("errors describe themselves")
    func descriptions() {
        let error = ELFError.sectionOutOfBounds(section: "prog", offset: 10, size: 20, fileSize: 15)
        #expect(error.description.contains("prog"))
        #expect(error.description.contains("15"))
        #expect(ELFError.notELF.description.contains("magic"))
    }
}

extension ELFFile {
    static func parseError(_ bytes: [UInt8]) -> ELFError? {
        do throws(ELFError) {
            _ = try ELFFile(bytes: bytes)
            return nil
        } catch {
            return error
        }
    }
}
