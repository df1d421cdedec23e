/// One relocation entry (`Elf64_Rel` or `Elf64_Rela`).
public struct ELFRelocation: Sendable, Hashable {
    /// Where to apply it (`r_offset`): an offset into the target section in relocatable
    /// files, a virtual address otherwise.
    public var offset: UInt64
    /// The index of the symbol in the linked symbol table (`ELF64_R_SYM(r_info)`).
    public var symbolIndex: UInt32
    /// The machine-specific relocation type (`ELF64_R_TYPE(r_info)`), such as `R_BPF_64_64`.
    public var type: UInt32
    /// The explicit addend (`r_addend`) of an `SHT_RELA` entry; 0 for `SHT_REL`.
    public var addend: Int64

    public init(offset: UInt64, symbolIndex: UInt32, type: UInt32, addend: Int64) {
        self.offset = offset
        self.symbolIndex = symbolIndex
        self.type = type
        self.addend = addend
    }
}

extension ELFFile {
    /// The relocations of an `SHT_REL` or `SHT_RELA` section, with symbol indices checked
    /// against the symbol table the section links to.
    public func relocations(in section: ELFSection) throws(ELFError) -> [ELFRelocation] {
        let hasAddend: Bool
        switch section.type {
        case .rel: hasAddend = false
        case .rela: hasAddend = true
        default: throw .badSectionType(section: section.displayName, type: section.type, expected: .rel)
        }
        let entrySize = hasAddend ? ELF64Layout.relaSize : ELF64Layout.relSize
        let count = try entryCount(of: section, entrySize: entrySize)

        // sh_link 0 means no symbol table, so every entry must use the null symbol.
        let symbolCount: Int
        if section.link == 0 {
            symbolCount = 1
        } else {
            let table = try self.section(at: section.link, referencedBy: "\(section.displayName) sh_link")
            symbolCount = try self.symbolCount(in: table)
        }

        let reader = ByteReader(bytes: try contents(of: section), byteOrder: header.byteOrder)
        var result: [ELFRelocation] = []
        result.reserveCapacity(count)
        for index in 0..<count {
            let base = index * entrySize
            let offset: UInt64, info: UInt64, addend: Int64
            do throws(ByteReaderError) {
                offset = try reader.readU64(at: base)
                info = try reader.readU64(at: base + 8)
                addend = hasAddend ? try reader.readI64(at: base + 16) : 0
            } catch {
                throw .truncated("relocation \(index) in \(section.displayName)", error)
            }
            let symbolIndex = UInt32(truncatingIfNeeded: info >> 32)
            guard Int(symbolIndex) < symbolCount else {
                throw .badSymbolIndex(
                    section: section.displayName, relocation: index, symbolIndex: symbolIndex,
                    symbolCount: section.link == 0 ? 0 : symbolCount)
            }
            result.append(
                ELFRelocation(
                    offset: offset, symbolIndex: symbolIndex, type: UInt32(truncatingIfNeeded: info), addend: addend))
        }
        return result
    }

    /// The section a relocation section applies to (`sh_info`), or `nil` when `sh_info` is 0,
    /// as for dynamic relocations.
    public func relocationTarget(of section: ELFSection) throws(ELFError) -> ELFSection? {
        guard section.info != 0 else { return nil }
        return try self.section(at: section.info, referencedBy: "\(section.displayName) sh_info")
    }
}
