import EBPFSys

/// Why a BTF blob could not be used. Each case names what was wrong and where.
///
/// Byte offsets count from the start of the blob (not from the type or string section), so they
/// can be found with a hex dump. `id` is the type whose record is at fault.
public enum BTFError: Error, Equatable, CustomStringConvertible {
    case truncatedHeader(available: Int, needed: Int)
    case badMagic(UInt16)
    case unsupportedVersion(UInt8)
    case badHeaderLength(UInt32, blobSize: Int)
    case unknownHeaderField(offset: Int)
    case sectionOutOfBounds(section: String, offset: UInt32, length: UInt32, available: UInt64)
    case misalignedTypeSection(offset: UInt32)
    /// The string section is not empty-string-first or not NUL-terminated at its end.
    case malformedStringSection(offset: Int, length: UInt32)
    /// A type record's fixed part runs past the end of the type section.
    case truncatedType(id: BTFTypeID, offset: Int, needed: Int, available: Int)
    /// A type's vlen asks for more trailing records than the type section holds, or is not
    /// allowed for its kind.
    case badVlen(id: BTFTypeID, offset: Int, kind: BTFKind, vlen: Int)
    /// `BTF_INFO_KIND` names no kind this library knows.
    case unknownKind(id: BTFTypeID, offset: Int, kind: UInt8)
    /// A name offset points past the end of the string section(s).
    case stringOffsetOutOfRange(id: BTFTypeID, offset: Int, stringOffset: UInt32, stringSectionLength: UInt32)
    /// A type refers to a type id that does not exist in this spec (or its base).
    case typeIDOutOfRange(id: BTFTypeID, offset: Int, referenced: BTFTypeID, typeCount: UInt32)
    /// A value (not a pointer) reference from this type leads back to it: a typedef or qualifier
    /// chain that loops, or a struct that contains itself.
    case referenceCycle(id: BTFTypeID, offset: Int)
    /// A field of a type record holds a value the kernel would reject (an int wider than its
    /// size, a linkage that does not exist, an array index type of the wrong kind).
    case invalidType(id: BTFTypeID, offset: Int, reason: String)
    /// Asked for a type id this spec (and its base) does not have.
    case noSuchType(BTFTypeID)
    /// Too many types for 32-bit type ids (split BTF on top of a base).
    case tooManyTypes(offset: Int)
    /// A file could not be opened or read; `errno` is the C library's error number.
    case readFailed(path: String, errno: Int32)
    /// An ELF file could not be read, or has no `.BTF` section.
    case elf(path: String, reason: String)
    /// A bpf(2) command on a kernel BTF object failed; `errno` is the kernel's error number.
    case kernelObject(id: UInt32, command: String, errno: Int32)
    /// None of the places kernel BTF is looked for had it.
    case kernelBTFNotFound(searched: [String])

    public var description: String {
        switch self {
        case .truncatedHeader(let available, let needed):
            "BTF header truncated: \(available) bytes, need \(needed)"
        case .badMagic(let magic):
            "not BTF: magic 0x\(String(magic, radix: 16)) at offset 0, expected 0xeb9f"
        case .unsupportedVersion(let version):
            "unsupported BTF version \(version) at offset 2 (only version 1 exists)"
        case .badHeaderLength(let length, let blobSize):
            "BTF header length \(length) at offset 4 is invalid for a \(blobSize)-byte blob"
        case .unknownHeaderField(let offset):
            "BTF header has a non-zero field this library does not know at offset \(offset)"
        case .sectionOutOfBounds(let section, let offset, let length, let available):
            "BTF \(section) section (offset \(offset), length \(length)) exceeds the \(available) bytes after the header"
        case .misalignedTypeSection(let offset):
            "BTF type section offset \(offset) is not 4-byte aligned"
        case .malformedStringSection(let offset, let length):
            "BTF string section at offset \(offset) (length \(length)) must start and end with a NUL byte"
        case .truncatedType(let id, let offset, let needed, let available):
            "BTF type \(id) at offset \(offset) needs \(needed) bytes, only \(available) left in the type section"
        case .badVlen(let id, let offset, let kind, let vlen):
            "BTF type \(id) (\(kind)) at offset \(offset) has an invalid vlen \(vlen)"
        case .unknownKind(let id, let offset, let kind):
            "BTF type \(id) at offset \(offset) has unknown kind \(kind)"
        case .stringOffsetOutOfRange(let id, let offset, let stringOffset, let length):
            "BTF type \(id): string offset \(stringOffset) at offset \(offset) is past the string section (\(length) bytes)"
        case .typeIDOutOfRange(let id, let offset, let referenced, let count):
            "BTF type \(id) refers at offset \(offset) to type \(referenced), but there are only \(count) types"
        case .referenceCycle(let id, let offset):
            "BTF type \(id) at offset \(offset) is part of a reference cycle that no pointer breaks"
        case .invalidType(let id, let offset, let reason):
            "BTF type \(id) at offset \(offset) is invalid: \(reason)"
        case .noSuchType(let id):
            "no BTF type with id \(id)"
        case .tooManyTypes(let offset):
            "too many BTF types for 32-bit ids at offset \(offset)"
        case .readFailed(let path, let code):
            "cannot read \(path): \(Errno(rawValue: code))"
        case .elf(let path, let reason):
            "cannot read BTF from ELF file \(path): \(reason)"
        case .kernelObject(let id, let command, let code):
            "\(command) for BTF object \(id) failed: \(Errno(rawValue: code))"
        case .kernelBTFNotFound(let searched):
            "no kernel BTF found; searched \(searched.joined(separator: ", "))"
        }
    }
}
