/// Why an ELF file could not be read. Every case names the structure and the place it concerns.
public enum ELFError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file does not start with the ELF magic bytes `\x7fELF`.
    case notELF
    /// `e_ident[EI_CLASS]` is not `ELFCLASS64`; only 64-bit files are supported.
    case unsupportedClass(UInt8)
    /// `e_ident[EI_DATA]` is neither `ELFDATA2LSB` nor `ELFDATA2MSB`.
    case badByteOrder(UInt8)
    /// A version field (`e_ident[EI_VERSION]` or `e_version`) is not `EV_CURRENT` (1).
    case unsupportedVersion(field: String, version: UInt32)
    /// `e_ehsize` is not the size of an ELF64 header (64).
    case badHeaderSize(UInt16)
    /// A table's entries do not have the size the format requires: `e_shentsize`,
    /// `e_phentsize`, or the `sh_entsize` of a symbol, relocation or index table.
    case badEntrySize(section: String, entrySize: UInt64, expected: Int)
    /// A section's size is not a whole number of its entries.
    case badSectionSize(section: String, size: UInt64, entrySize: Int)
    /// A read ran past the end of the file or of a section.
    case truncated(what: String, offset: Int, needed: Int, available: Int)
    /// The section or program header table lies (partly) outside the file.
    case tableOutOfBounds(table: String, offset: UInt64, count: UInt64, entrySize: Int, fileSize: Int)
    /// A section's contents lie (partly) outside the file.
    case sectionOutOfBounds(section: String, offset: UInt64, size: UInt64, fileSize: Int)
    /// A section index (`e_shstrndx`, `sh_link`, `sh_info` or a symbol's section) names no section.
    case badSectionIndex(what: String, index: UInt32, sectionCount: Int)
    /// A section has a type other than the one its use requires.
    case badSectionType(section: String, type: ELFSectionType, expected: ELFSectionType)
    /// A string table index lies outside the table.
    case badStringIndex(table: String, index: UInt32)
    /// A non-empty string table does not end with a NUL byte.
    case unterminatedStringTable(table: String)
    /// A relocation refers to a symbol the linked symbol table does not have.
    case badSymbolIndex(section: String, relocation: Int, symbolIndex: UInt32, symbolCount: Int)
    /// A note's sizes run past the end of its section.
    case badNote(section: String, offset: Int, nameSize: UInt32, descriptorSize: UInt32)
    /// The file could not be read; `errno` is the C library's error number.
    case cannotRead(path: String, operation: String, errno: Int32)

    public var description: String {
        switch self {
        case .notELF:
            return "not an ELF file: bad magic bytes"
        case .unsupportedClass(let elfClass):
            return "unsupported ELF class \(elfClass): only ELFCLASS64 (2) is supported"
        case .badByteOrder(let data):
            return "bad ELF data encoding \(data): expected ELFDATA2LSB (1) or ELFDATA2MSB (2)"
        case .unsupportedVersion(let field, let version):
            return "unsupported ELF version \(version) in \(field): expected 1"
        case .badHeaderSize(let size):
            return "bad ELF header size \(size): expected 64"
        case .badEntrySize(let section, let entrySize, let expected):
            return "\(section): entry size \(entrySize), expected \(expected)"
        case .badSectionSize(let section, let size, let entrySize):
            return "\(section): size \(size) is not a multiple of the entry size \(entrySize)"
        case .truncated(let what, let offset, let needed, let available):
            return "\(what) truncated: \(needed) bytes needed at offset \(offset), \(available) available"
        case .tableOutOfBounds(let table, let offset, let count, let entrySize, let fileSize):
            return "\(table) (\(count) entries of \(entrySize) bytes at offset \(offset)) exceeds the file size \(fileSize)"
        case .sectionOutOfBounds(let section, let offset, let size, let fileSize):
            return "section \(section) (\(size) bytes at offset \(offset)) exceeds the file size \(fileSize)"
        case .badSectionIndex(let what, let index, let sectionCount):
            return "\(what): section index \(index) out of range (\(sectionCount) sections)"
        case .badSectionType(let section, let type, let expected):
            return "section \(section) has type \(type), expected \(expected)"
        case .badStringIndex(let table, let index):
            return "string index \(index) is outside string table \(table)"
        case .unterminatedStringTable(let table):
            return "string table \(table) does not end with a NUL byte"
        case .badSymbolIndex(let section, let relocation, let symbolIndex, let symbolCount):
            return "\(section): relocation \(relocation) refers to symbol \(symbolIndex), but the symbol table has \(symbolCount)"
        case .badNote(let section, let offset, let nameSize, let descriptorSize):
            return "\(section): note at offset \(offset) with name size \(nameSize) and descriptor size \(descriptorSize) exceeds the section"
        case .cannotRead(let path, let operation, let errno):
            return "cannot read \(path): \(operation) failed with errno \(errno)"
        }
    }
}

extension ELFError {
    /// Wraps a reader's out-of-bounds error with the name of what was being read.
    static func truncated(_ what: String, _ error: ByteReaderError) -> ELFError {
        .truncated(what: what, offset: error.offset, needed: error.needed, available: error.available)
    }
}
