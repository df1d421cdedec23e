/// One symbol table entry (`Elf64_Sym`).
public struct ELFSymbol: Sendable, Hashable {
    /// The position in its symbol table; relocations refer to symbols by this index.
    public var index: Int
    /// The name from the linked string table; empty for unnamed symbols such as section symbols.
    public var name: String
    /// The value (`st_value`): an offset into the section in relocatable files, an address otherwise.
    public var value: UInt64
    /// The size of the object or function in bytes, 0 if unknown (`st_size`).
    public var size: UInt64
    /// The linkage (`ELF64_ST_BIND(st_info)`).
    public var binding: ELFSymbolBinding
    /// What the symbol names (`ELF64_ST_TYPE(st_info)`).
    public var kind: ELFSymbolKind
    /// The visibility (`ELF64_ST_VISIBILITY(st_other)`).
    public var visibility: ELFSymbolVisibility
    /// The whole `st_other` byte.
    public var other: UInt8
    /// The section index as stored (`st_shndx`), including reserved values such as
    /// ``ELFSpecialSectionIndex/absolute``.
    public var sectionIndex: UInt16
    /// The index of the section the symbol is defined in, with `SHN_XINDEX` resolved through
    /// the `SHT_SYMTAB_SHNDX` table; `nil` for undefined, absolute, common and other reserved indices.
    public var section: Int?

    /// Whether the symbol is undefined here (`SHN_UNDEF`), such as an extern or a kfunc.
    public var isUndefined: Bool { sectionIndex == ELFSpecialSectionIndex.undefined }
    /// Whether the value is absolute (`SHN_ABS`).
    public var isAbsolute: Bool { sectionIndex == ELFSpecialSectionIndex.absolute }
    /// Whether the symbol is a common block (`SHN_COMMON`).
    public var isCommon: Bool { sectionIndex == ELFSpecialSectionIndex.common }
}

extension ELFFile {
    /// The static symbol table (`.symtab`, type `SHT_SYMTAB`), including the null symbol at
    /// index 0 so that relocation symbol indices can index the result directly; empty when the
    /// file has no symbol table.
    public func symbols() throws(ELFError) -> [ELFSymbol] {
        guard let table = sections.first(where: { $0.type == .symtab }) else { return [] }
        return try symbols(in: table)
    }

    /// The dynamic symbol table (`.dynsym`, type `SHT_DYNSYM`), including the null symbol at
    /// index 0; empty when the file has none.
    public func dynamicSymbols() throws(ELFError) -> [ELFSymbol] {
        guard let table = sections.first(where: { $0.type == .dynsym }) else { return [] }
        return try symbols(in: table)
    }

    /// The number of entries in a symbol table, after checking its entry size.
    public func symbolCount(in table: ELFSection) throws(ELFError) -> Int {
        guard table.type == .symtab || table.type == .dynsym else {
            throw .badSectionType(section: table.displayName, type: table.type, expected: .symtab)
        }
        return try entryCount(of: table, entrySize: ELF64Layout.symbolSize)
    }

    /// The symbols of a symbol table section (`SHT_SYMTAB` or `SHT_DYNSYM`).
    public func symbols(in table: ELFSection) throws(ELFError) -> [ELFSymbol] {
        let count = try symbolCount(in: table)
        let contents = try contents(of: table)
        let names = try stringTableContents(try section(at: table.link, referencedBy: "\(table.displayName) sh_link"))
        let namesName = sections[Int(table.link)].displayName
        let extendedIndices = try extendedSectionIndices(for: table, symbolCount: count)

        let reader = ByteReader(bytes: contents, byteOrder: header.byteOrder)
        var result: [ELFSymbol] = []
        result.reserveCapacity(count)
        for index in 0..<count {
            let base = index * ELF64Layout.symbolSize
            let nameIndex: UInt32, info: UInt8, other: UInt8, sectionIndex: UInt16, value: UInt64, size: UInt64
            do throws(ByteReaderError) {
                // Checked as a whole, then read in place.
                (nameIndex, info, other, sectionIndex, value, size) = try reader.withRecord(
                    at: base, length: ELF64Layout.symbolSize
                ) { fields in
                    (fields.u32(at: 0), fields.u8(at: 4), fields.u8(at: 5), fields.u16(at: 6), fields.u64(at: 8), fields.u64(at: 16))
                }
            } catch {
                throw .truncated("symbol \(index) in \(table.displayName)", error)
            }

            let section: Int?
            switch sectionIndex {
            case ELFSpecialSectionIndex.undefined:
                section = nil
            case ELFSpecialSectionIndex.extended:
                guard let extendedIndices else {
                    throw .badSectionIndex(
                        what: "symbol \(index) in \(table.displayName) (SHN_XINDEX without SHT_SYMTAB_SHNDX)",
                        index: UInt32(sectionIndex), sectionCount: sections.count)
                }
                let resolved = extendedIndices[index]
                guard Int(resolved) < sections.count else {
                    throw .badSectionIndex(
                        what: "symbol \(index) in \(table.displayName)", index: resolved, sectionCount: sections.count)
                }
                section = Int(resolved)
            case ELFSpecialSectionIndex.lowReserve...:
                section = nil
            default:
                guard Int(sectionIndex) < sections.count else {
                    throw .badSectionIndex(
                        what: "symbol \(index) in \(table.displayName)", index: UInt32(sectionIndex),
                        sectionCount: sections.count)
                }
                section = Int(sectionIndex)
            }

            result.append(
                ELFSymbol(
                    index: index,
                    name: try Self.string(at: nameIndex, in: names, tableName: namesName),
                    value: value,
                    size: size,
                    binding: ELFSymbolBinding(rawValue: info >> 4),
                    kind: ELFSymbolKind(rawValue: info & 0xF),
                    visibility: ELFSymbolVisibility(rawValue: other & 0x3),
                    other: other,
                    sectionIndex: sectionIndex,
                    section: section))
        }
        return result
    }

    /// The entries of the `SHT_SYMTAB_SHNDX` section that belongs to `table`, if there is one.
    private func extendedSectionIndices(for table: ELFSection, symbolCount: Int) throws(ELFError) -> [UInt32]? {
        guard let indexTable = sections.first(where: {
            $0.type == .symtabSectionIndices && Int($0.link) == table.index
        }) else { return nil }
        let count = try entryCount(of: indexTable, entrySize: 4)
        guard count == symbolCount else {
            throw .badSectionSize(section: indexTable.displayName, size: indexTable.size, entrySize: 4)
        }
        let reader = ByteReader(bytes: try contents(of: indexTable), byteOrder: header.byteOrder)
        var indices: [UInt32] = []
        indices.reserveCapacity(count)
        do throws(ByteReaderError) {
            for index in 0..<count { indices.append(try reader.readU32(at: index * 4)) }
        } catch {
            throw .truncated(indexTable.displayName, error)
        }
        return indices
    }

    /// The number of entries of a table section, requiring `sh_entsize` to be `entrySize`
    /// and the size to be a whole number of entries.
    func entryCount(of section: ELFSection, entrySize: Int) throws(ELFError) -> Int {
        guard section.entrySize == UInt64(entrySize) else {
            throw .badEntrySize(section: section.displayName, entrySize: section.entrySize, expected: entrySize)
        }
        guard section.size % UInt64(entrySize) == 0 else {
            throw .badSectionSize(section: section.displayName, size: section.size, entrySize: entrySize)
        }
        // The section lies inside the file (checked at parse time), so the count fits an Int.
        return Int(section.size / UInt64(entrySize))
    }
}
