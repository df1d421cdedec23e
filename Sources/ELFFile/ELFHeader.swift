/// The ELF file header (`Elf64_Ehdr`), with the extended counts and index already resolved.
public struct ELFHeader: Sendable, Hashable {
    /// The byte order of every multi-byte field in the file (`e_ident[EI_DATA]`).
    public var byteOrder: ELFByteOrder
    /// The operating system ABI (`e_ident[EI_OSABI]`), 0 for System V.
    public var osABI: UInt8
    /// The ABI version (`e_ident[EI_ABIVERSION]`).
    public var abiVersion: UInt8
    /// The kind of file (`e_type`).
    public var type: ELFFileType
    /// The target architecture (`e_machine`).
    public var machine: ELFMachine
    /// The object file version (`e_version`); always 1 (`EV_CURRENT`) in a file that parsed.
    public var version: UInt32
    /// The entry point's virtual address (`e_entry`), 0 if none.
    public var entry: UInt64
    /// The file offset of the program header table (`e_phoff`).
    public var programHeaderOffset: UInt64
    /// The file offset of the section header table (`e_shoff`).
    public var sectionHeaderOffset: UInt64
    /// Processor-specific flags (`e_flags`).
    public var flags: UInt32
    /// The size of this header (`e_ehsize`); always 64.
    public var headerSize: UInt16
    /// The size of one program header (`e_phentsize`).
    public var programHeaderEntrySize: UInt16
    /// The number of program headers, taken from section 0's `sh_info` when `e_phnum` is
    /// `PN_XNUM` (0xffff).
    public var programHeaderCount: Int
    /// The size of one section header (`e_shentsize`).
    public var sectionHeaderEntrySize: UInt16
    /// The number of section headers, taken from section 0's `sh_size` when `e_shnum` is 0
    /// and the table exists.
    public var sectionHeaderCount: Int
    /// The index of the section name string table (`e_shstrndx`), taken from section 0's
    /// `sh_link` when it is `SHN_XINDEX`; 0 when the file has none.
    public var sectionNameTableIndex: Int
}

/// Layout of ELF64 headers, in bytes.
enum ELF64Layout {
    static let identSize = 16
    static let fileHeaderSize = 64
    static let sectionHeaderSize = 64
    static let programHeaderSize = 56
    static let symbolSize = 24
    static let relSize = 16
    static let relaSize = 24
    static let noteHeaderSize = 12

    static let magic: [UInt8] = [0x7F, 0x45, 0x4C, 0x46]
    static let class64: UInt8 = 2
    static let dataLittleEndian: UInt8 = 1
    static let dataBigEndian: UInt8 = 2
    static let currentVersion: UInt8 = 1
    /// `PN_XNUM`: the real program header count is in section 0's `sh_info`.
    static let extendedProgramHeaderCount: UInt16 = 0xFFFF
}

/// The fields of one section header as stored, before names and checks.
struct RawSectionHeader {
    var nameIndex: UInt32
    var type: UInt32
    var flags: UInt64
    var address: UInt64
    var offset: UInt64
    var size: UInt64
    var link: UInt32
    var info: UInt32
    var alignment: UInt64
    var entrySize: UInt64

    init(reader: ByteReader, at offset: Int) throws(ByteReaderError) {
        // Checked as a whole, then read in place.
        self = try reader.withRecord(at: offset, length: ELF64Layout.sectionHeaderSize) { fields in
            RawSectionHeader(fields)
        }
    }

    private init(_ fields: RecordFields) {
        nameIndex = fields.u32(at: 0)
        type = fields.u32(at: 4)
        flags = fields.u64(at: 8)
        address = fields.u64(at: 16)
        offset = fields.u64(at: 24)
        size = fields.u64(at: 32)
        link = fields.u32(at: 40)
        info = fields.u32(at: 44)
        alignment = fields.u64(at: 48)
        entrySize = fields.u64(at: 56)
    }
}

extension ELFHeader {
    /// Reads and validates the file header, resolving the extended section count, program
    /// header count and name table index through section 0 where the header escapes to it.
    static func parse(_ bytes: [UInt8]) throws(ELFError) -> ELFHeader {
        let magicLength = min(bytes.count, ELF64Layout.magic.count)
        guard bytes[0..<magicLength].elementsEqual(ELF64Layout.magic[0..<magicLength]) else {
            throw .notELF
        }
        guard bytes.count >= ELF64Layout.identSize else {
            throw .truncated(what: "ELF identification", offset: 0, needed: ELF64Layout.identSize, available: bytes.count)
        }
        guard bytes[4] == ELF64Layout.class64 else { throw .unsupportedClass(bytes[4]) }
        let byteOrder: ELFByteOrder
        switch bytes[5] {
        case ELF64Layout.dataLittleEndian: byteOrder = .littleEndian
        case ELF64Layout.dataBigEndian: byteOrder = .bigEndian
        default: throw .badByteOrder(bytes[5])
        }
        guard bytes[6] == ELF64Layout.currentVersion else {
            throw .unsupportedVersion(field: "e_ident[EI_VERSION]", version: UInt32(bytes[6]))
        }
        guard bytes.count >= ELF64Layout.fileHeaderSize else {
            throw .truncated(what: "ELF header", offset: 0, needed: ELF64Layout.fileHeaderSize, available: bytes.count)
        }

        let reader = ByteReader(bytes: bytes, byteOrder: byteOrder)
        var header: ELFHeader
        do throws(ByteReaderError) {
            header = ELFHeader(
                byteOrder: byteOrder,
                osABI: bytes[7],
                abiVersion: bytes[8],
                type: ELFFileType(rawValue: try reader.readU16(at: 16)),
                machine: ELFMachine(rawValue: try reader.readU16(at: 18)),
                version: try reader.readU32(at: 20),
                entry: try reader.readU64(at: 24),
                programHeaderOffset: try reader.readU64(at: 32),
                sectionHeaderOffset: try reader.readU64(at: 40),
                flags: try reader.readU32(at: 48),
                headerSize: try reader.readU16(at: 52),
                programHeaderEntrySize: try reader.readU16(at: 54),
                programHeaderCount: Int(try reader.readU16(at: 56)),
                sectionHeaderEntrySize: try reader.readU16(at: 58),
                sectionHeaderCount: Int(try reader.readU16(at: 60)),
                sectionNameTableIndex: Int(try reader.readU16(at: 62))
            )
        } catch {
            throw .truncated("ELF header", error)
        }
        guard header.version == 1 else { throw .unsupportedVersion(field: "e_version", version: header.version) }
        guard header.headerSize == ELF64Layout.fileHeaderSize else { throw .badHeaderSize(header.headerSize) }
        try header.resolveExtendedFields(reader: reader)
        return header
    }

    private mutating func resolveExtendedFields(reader: ByteReader) throws(ELFError) {
        let rawProgramHeaderCount = UInt16(truncatingIfNeeded: programHeaderCount)
        let rawNameTableIndex = UInt16(truncatingIfNeeded: sectionNameTableIndex)

        if sectionHeaderOffset == 0 {
            // No section header table: nothing can be named or escaped through section 0.
            sectionHeaderCount = 0
            guard rawNameTableIndex == ELFSpecialSectionIndex.undefined else {
                throw .badSectionIndex(what: "e_shstrndx", index: UInt32(rawNameTableIndex), sectionCount: 0)
            }
            guard rawProgramHeaderCount != ELF64Layout.extendedProgramHeaderCount else {
                throw .badSectionIndex(what: "e_phnum (PN_XNUM needs section 0)", index: 0, sectionCount: 0)
            }
            return
        }

        guard sectionHeaderEntrySize == ELF64Layout.sectionHeaderSize else {
            throw .badEntrySize(
                section: "section header table (e_shentsize)", entrySize: UInt64(sectionHeaderEntrySize),
                expected: ELF64Layout.sectionHeaderSize)
        }
        let needsSectionZero = sectionHeaderCount == 0
            || rawNameTableIndex == ELFSpecialSectionIndex.extended
            || rawProgramHeaderCount == ELF64Layout.extendedProgramHeaderCount
        guard needsSectionZero else {
            guard rawNameTableIndex < ELFSpecialSectionIndex.lowReserve else {
                throw .badSectionIndex(what: "e_shstrndx", index: UInt32(rawNameTableIndex), sectionCount: sectionHeaderCount)
            }
            return
        }

        guard let tableOffset = Int(exactly: sectionHeaderOffset) else {
            throw .tableOutOfBounds(
                table: "section header table", offset: sectionHeaderOffset, count: 1,
                entrySize: ELF64Layout.sectionHeaderSize, fileSize: reader.count)
        }
        let sectionZero: RawSectionHeader
        do {
            sectionZero = try RawSectionHeader(reader: reader, at: tableOffset)
        } catch {
            throw .tableOutOfBounds(
                table: "section header table", offset: sectionHeaderOffset, count: 1,
                entrySize: ELF64Layout.sectionHeaderSize, fileSize: reader.count)
        }
        if sectionHeaderCount == 0 {
            // The real count may be anything up to what fits; the table bounds check catches the rest.
            guard let count = Int(exactly: sectionZero.size) else {
                throw .tableOutOfBounds(
                    table: "section header table", offset: sectionHeaderOffset, count: sectionZero.size,
                    entrySize: ELF64Layout.sectionHeaderSize, fileSize: reader.count)
            }
            sectionHeaderCount = count
        }
        if rawNameTableIndex == ELFSpecialSectionIndex.extended {
            sectionNameTableIndex = Int(sectionZero.link)
        } else if rawNameTableIndex >= ELFSpecialSectionIndex.lowReserve {
            throw .badSectionIndex(what: "e_shstrndx", index: UInt32(rawNameTableIndex), sectionCount: sectionHeaderCount)
        }
        if rawProgramHeaderCount == ELF64Layout.extendedProgramHeaderCount {
            programHeaderCount = Int(sectionZero.info)
        }
    }
}
