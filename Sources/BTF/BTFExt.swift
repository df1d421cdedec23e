import EBPFELFFile

/// The `.BTF.ext` section of a BPF object: per code section, which function each BTF `FUNC`
/// starts at, the source line of instructions, and the CO-RE relocations clang recorded.
///
/// Strings (section names, file names, source lines, access strings) live in the `.BTF` string
/// table, so parsing needs the object's `BTFSpec`. Instruction offsets are kept as clang wrote
/// them: in bytes from the start of the section.
///
/// ```swift
/// let ext = try BTFExt(bytes: file.contents(of: extSection), spec: spec)
/// for relocation in ext.coreRelocations["kprobe/sys_execve", default: []] { ... }
/// ```
public struct BTFExt: Hashable, Sendable {
    /// The byte order the section was written in.
    public var byteOrder: BTFByteOrder
    /// `bpf_func_info` records, by code section name.
    public var funcInfos: [String: [BTFFuncInfo]]
    /// `bpf_line_info` records, by code section name.
    public var lineInfos: [String: [BTFLineInfo]]
    /// `bpf_core_relo` records, by code section name.
    public var coreRelocations: [String: [BTFCoreRelocation]]

    public init(
        byteOrder: BTFByteOrder, funcInfos: [String: [BTFFuncInfo]] = [:], lineInfos: [String: [BTFLineInfo]] = [:],
        coreRelocations: [String: [BTFCoreRelocation]] = [:]
    ) {
        self.byteOrder = byteOrder
        self.funcInfos = funcInfos
        self.lineInfos = lineInfos
        self.coreRelocations = coreRelocations
    }
}

/// A `struct bpf_func_info`: the function whose BTF `FUNC` type is `type` starts at the
/// instruction at `instructionOffset` bytes.
public struct BTFFuncInfo: Hashable, Sendable {
    public var instructionOffset: UInt32
    public var type: BTFTypeID
    public init(instructionOffset: UInt32, type: BTFTypeID) {
        self.instructionOffset = instructionOffset
        self.type = type
    }
    /// The index of the instruction (8 bytes each).
    public var instructionIndex: Int { Int(instructionOffset / 8) }
}

/// A `struct bpf_line_info`: the source line an instruction came from.
///
/// Records parsed from an object keep the two string offsets and decode ``fileName`` and ``line``
/// from the object's BTF when they are read: a big object has thousands of these records, and most
/// of them are never printed.
public struct BTFLineInfo: Hashable, Sendable {
    public var instructionOffset: UInt32
    public var lineNumber: UInt32
    public var column: UInt32
    /// Where the strings are: the spec the offsets point into, or the strings themselves.
    var text: BTFLineText
    var fileNameOffset: UInt32
    var lineOffset: UInt32

    public var fileName: String {
        get {
            guard let spec = text.spec else { return text.fileName }
            return spec.string(at: fileNameOffset) ?? ""
        }
        set { setText(fileName: newValue, line: line) }
    }

    /// The text of the source line.
    public var line: String {
        get {
            guard let spec = text.spec else { return text.line }
            return spec.string(at: lineOffset) ?? ""
        }
        set { setText(fileName: fileName, line: newValue) }
    }

    public init(instructionOffset: UInt32, fileName: String, line: String, lineNumber: UInt32, column: UInt32) {
        self.instructionOffset = instructionOffset
        self.lineNumber = lineNumber
        self.column = column
        self.text = BTFLineText(fileName: fileName, line: line)
        self.fileNameOffset = 0
        self.lineOffset = 0
    }

    /// A record whose strings stay in `text`'s spec until read; callers have checked both offsets.
    init(instructionOffset: UInt32, text: BTFLineText, fileName: UInt32, line: UInt32, lineNumber: UInt32, column: UInt32) {
        self.instructionOffset = instructionOffset
        self.lineNumber = lineNumber
        self.column = column
        self.text = text
        self.fileNameOffset = fileName
        self.lineOffset = line
    }

    private mutating func setText(fileName: String, line: String) {
        text = BTFLineText(fileName: fileName, line: line)
        fileNameOffset = 0
        lineOffset = 0
    }

    /// The index of the instruction (8 bytes each).
    public var instructionIndex: Int { Int(instructionOffset / 8) }

    /// The offsets of the file name and of the line's text in `spec`'s string table, when the
    /// record still reads its strings from there (it was decoded from that spec's `.BTF.ext` and
    /// its strings were not replaced); nil otherwise. A loader that copies the strings into a new
    /// table can then do so once per string rather than decode and hash them for every record.
    public func stringOffsets(in spec: BTFSpec) -> (fileName: UInt32, line: UInt32)? {
        guard let own = text.spec, own === spec else { return nil }
        return (fileNameOffset, lineOffset)
    }

    public static func == (lhs: BTFLineInfo, rhs: BTFLineInfo) -> Bool {
        guard lhs.instructionOffset == rhs.instructionOffset, lhs.lineNumber == rhs.lineNumber, lhs.column == rhs.column
        else { return false }
        if lhs.text === rhs.text, lhs.fileNameOffset == rhs.fileNameOffset, lhs.lineOffset == rhs.lineOffset {
            return true
        }
        return lhs.fileName == rhs.fileName && lhs.line == rhs.line
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(instructionOffset)
        hasher.combine(lineNumber)
        hasher.combine(column)
        hasher.combine(fileName)
        hasher.combine(line)
    }
}

/// The strings of line records: a spec whose string table their offsets point into (shared by all
/// records of one `.BTF.ext`), or one record's own two strings. A single reference keeps copying a
/// record as cheap as one reference count.
final class BTFLineText: Sendable {
    let spec: BTFSpec?
    let fileName: String
    let line: String

    init(spec: BTFSpec) {
        self.spec = spec
        self.fileName = ""
        self.line = ""
    }

    init(fileName: String, line: String) {
        self.spec = nil
        self.fileName = fileName
        self.line = line
    }
}

/// A `struct bpf_core_relo`: the instruction at `instructionOffset` needs a value that depends
/// on the target kernel's layout of `type`, along the accessor path `accessString` ("0:1:2").
public struct BTFCoreRelocation: Hashable, Sendable {
    public var instructionOffset: UInt32
    public var type: BTFTypeID
    public var accessString: String
    public var kind: BTFCoreRelocationKind
    public init(instructionOffset: UInt32, type: BTFTypeID, accessString: String, kind: BTFCoreRelocationKind) {
        self.instructionOffset = instructionOffset
        self.type = type
        self.accessString = accessString
        self.kind = kind
    }
    /// The index of the instruction (8 bytes each).
    public var instructionIndex: Int { Int(instructionOffset / 8) }
}

/// What a CO-RE relocation computes, `enum bpf_core_relo_kind`.
public struct BTFCoreRelocationKind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `BPF_CORE_FIELD_BYTE_OFFSET`.
    public static let fieldByteOffset = BTFCoreRelocationKind(rawValue: 0)
    /// `BPF_CORE_FIELD_BYTE_SIZE`.
    public static let fieldByteSize = BTFCoreRelocationKind(rawValue: 1)
    /// `BPF_CORE_FIELD_EXISTS`.
    public static let fieldExists = BTFCoreRelocationKind(rawValue: 2)
    /// `BPF_CORE_FIELD_SIGNED`.
    public static let fieldSigned = BTFCoreRelocationKind(rawValue: 3)
    /// `BPF_CORE_FIELD_LSHIFT_U64`.
    public static let fieldLeftShiftU64 = BTFCoreRelocationKind(rawValue: 4)
    /// `BPF_CORE_FIELD_RSHIFT_U64`.
    public static let fieldRightShiftU64 = BTFCoreRelocationKind(rawValue: 5)
    /// `BPF_CORE_TYPE_ID_LOCAL`.
    public static let typeIDLocal = BTFCoreRelocationKind(rawValue: 6)
    /// `BPF_CORE_TYPE_ID_TARGET`.
    public static let typeIDTarget = BTFCoreRelocationKind(rawValue: 7)
    /// `BPF_CORE_TYPE_EXISTS`.
    public static let typeExists = BTFCoreRelocationKind(rawValue: 8)
    /// `BPF_CORE_TYPE_SIZE`.
    public static let typeSize = BTFCoreRelocationKind(rawValue: 9)
    /// `BPF_CORE_ENUMVAL_EXISTS`.
    public static let enumValueExists = BTFCoreRelocationKind(rawValue: 10)
    /// `BPF_CORE_ENUMVAL_VALUE`.
    public static let enumValueValue = BTFCoreRelocationKind(rawValue: 11)
    /// `BPF_CORE_TYPE_MATCHES`.
    public static let typeMatches = BTFCoreRelocationKind(rawValue: 12)

    /// The kinds the kernel defines today.
    public static let allKnown: [BTFCoreRelocationKind] = (0...12).map { BTFCoreRelocationKind(rawValue: $0) }

    public var description: String {
        switch rawValue {
        case 0: "byte_off"
        case 1: "byte_sz"
        case 2: "field_exists"
        case 3: "signed"
        case 4: "lshift_u64"
        case 5: "rshift_u64"
        case 6: "local_type_id"
        case 7: "target_type_id"
        case 8: "type_exists"
        case 9: "type_size"
        case 10: "enumval_exists"
        case 11: "enumval_value"
        case 12: "type_matches"
        default: "relocation kind \(rawValue)"
        }
    }
}

/// Why a `.BTF.ext` section could not be used. Offsets count from the start of the section.
public enum BTFExtError: Error, Equatable, CustomStringConvertible {
    case truncatedHeader(available: Int, needed: Int)
    case badMagic(UInt16)
    case unsupportedVersion(UInt8)
    case badHeaderLength(UInt32, available: Int)
    /// One of the func_info, line_info or core_relo subsections lies outside the section.
    case subsectionOutOfBounds(subsection: String, offset: UInt32, length: UInt32, available: Int)
    /// A subsection's record size is smaller than the record the kernel defines.
    case recordSizeTooSmall(subsection: String, offset: Int, recordSize: UInt32, minimum: UInt32)
    /// A run of records (or its header) does not fit in its subsection.
    case truncatedRecords(subsection: String, offset: Int, needed: UInt64, available: Int)
    /// A string offset (section name, file name, line, access string) is not in the `.BTF` strings.
    case stringOffsetOutOfRange(subsection: String, offset: Int, stringOffset: UInt32)
    /// An instruction offset that is not a multiple of the 8-byte instruction size.
    case misalignedInstructionOffset(subsection: String, offset: Int, instructionOffset: UInt32)
    /// A record refers to a type the `.BTF` section does not have.
    case typeIDOutOfRange(subsection: String, offset: Int, type: BTFTypeID, typeCount: UInt32)

    public var description: String {
        switch self {
        case .truncatedHeader(let available, let needed):
            "BTF.ext header truncated: \(available) bytes, need \(needed)"
        case .badMagic(let magic):
            "not BTF.ext: magic 0x\(String(magic, radix: 16)) at offset 0, expected 0xeb9f"
        case .unsupportedVersion(let version):
            "unsupported BTF.ext version \(version) at offset 2"
        case .badHeaderLength(let length, let available):
            "BTF.ext header length \(length) at offset 4 is invalid for \(available) bytes"
        case .subsectionOutOfBounds(let subsection, let offset, let length, let available):
            "BTF.ext \(subsection) (offset \(offset), length \(length)) exceeds the \(available) bytes after the header"
        case .recordSizeTooSmall(let subsection, let offset, let size, let minimum):
            "BTF.ext \(subsection) record size \(size) at offset \(offset) is below \(minimum)"
        case .truncatedRecords(let subsection, let offset, let needed, let available):
            "BTF.ext \(subsection) at offset \(offset) needs \(needed) bytes, \(available) left"
        case .stringOffsetOutOfRange(let subsection, let offset, let stringOffset):
            "BTF.ext \(subsection) at offset \(offset): string offset \(stringOffset) is not in the BTF strings"
        case .misalignedInstructionOffset(let subsection, let offset, let instructionOffset):
            "BTF.ext \(subsection) at offset \(offset): instruction offset \(instructionOffset) is not a multiple of 8"
        case .typeIDOutOfRange(let subsection, let offset, let type, let count):
            "BTF.ext \(subsection) at offset \(offset) refers to type \(type), but there are only \(count) types"
        }
    }
}
