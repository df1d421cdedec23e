/// Why a CO-RE relocation could not be applied, with what explains it: the program, the
/// instruction, the local type, the access written as C and the candidates that were tried.
///
/// ```
/// program 'tp_btf/sched_switch', instruction 12: struct task_struct::real_parent (0:2, byte_off):
/// candidates disagree (target 0 [123] struct task_struct: 1456; target 0 [9876] struct task_struct: 1472)
/// ```
public struct COREError: Error, Equatable, CustomStringConvertible {
    /// The program or section the caller named.
    public var program: String
    /// The index of the instruction in the array given (a `lddw` counts once), if known.
    public var instructionIndex: Int?
    /// The relocation record.
    public var relocation: BTFCoreRelocation
    /// The local root type written as C (`struct task_struct`).
    public var localType: String
    /// The accessed field or enumerator written as C (`struct task_struct::real_parent`).
    public var access: String
    /// The target types that had the local type's essential name.
    public var candidates: [CORECandidate]
    /// What went wrong.
    public var reason: COREErrorReason

    public init(
        program: String, instructionIndex: Int?, relocation: BTFCoreRelocation, localType: String, access: String,
        candidates: [CORECandidate], reason: COREErrorReason
    ) {
        self.program = program
        self.instructionIndex = instructionIndex
        self.relocation = relocation
        self.localType = localType
        self.access = access
        self.candidates = candidates
        self.reason = reason
    }

    public var description: String {
        var text = "program '\(program)'"
        if let instructionIndex { text += ", instruction \(instructionIndex)" }
        text += ": \(access) (\(relocation.accessString), \(relocation.kind)): \(reason)"
        if candidates.isEmpty {
            text += "; no candidate named like \(localType) in the target BTF"
        } else {
            text += "; candidates tried: " + candidates.map(\.description).joined(separator: ", ")
        }
        return text
    }
}

/// The ways a CO-RE relocation fails.
public enum COREErrorReason: Equatable, Sendable, CustomStringConvertible {
    /// The record's instruction offset is not the start of an instruction.
    case noInstructionAtOffset(UInt32)
    /// The access string is not a list of indices valid for the local type.
    case invalidAccessString(String)
    /// The record's kind is not one of the 13 the kernel defines, or does not fit the local type.
    case unsupportedKind(BTFCoreRelocationKind)
    /// libbpf relocates only named types (and `TYPE_ID_LOCAL` of any type).
    case anonymousLocalType
    /// Several candidates match but give different values (or different field offsets).
    case ambiguous([CandidateResult])
    /// The instruction does not have a form this relocation can patch.
    case unexpectedInstruction(String)
    /// The instruction does not hold the value the compiler computed for the local types.
    case unexpectedValue(actual: Int64, expected: UInt64)
    /// The target value does not fit where it goes (a 16-bit offset or a 32-bit immediate).
    case valueOutOfRange(UInt64)
    /// A bitfield cannot be read with one load of at most 8 bytes.
    case bitfieldTooWide
    /// The access size of the load or store does not match the local field's size, or the
    /// target's size is not 1, 2, 4 or 8.
    case unexpectedAccessSize(actual: Int, expected: UInt32)
    /// The program's or the target's BTF is inconsistent.
    case btf(BTFError)

    /// One candidate's outcome, for ambiguity reports.
    public struct CandidateResult: Hashable, Sendable, CustomStringConvertible {
        public var candidate: CORECandidate
        public var value: UInt64
        public var isPoisoned: Bool
        public var bitOffset: UInt64
        public init(candidate: CORECandidate, value: UInt64, isPoisoned: Bool, bitOffset: UInt64) {
            self.candidate = candidate
            self.value = value
            self.isPoisoned = isPoisoned
            self.bitOffset = bitOffset
        }
        public var description: String {
            "\(candidate): " + (isPoisoned ? "poison" : "\(value)") + " (bit offset \(bitOffset))"
        }
    }

    public var description: String {
        switch self {
        case .noInstructionAtOffset(let offset): "no instruction starts at byte offset \(offset)"
        case .invalidAccessString(let why): "invalid access string: \(why)"
        case .unsupportedKind(let kind): "relocation kind \(kind) is not supported here"
        case .anonymousLocalType: "anonymous local types cannot be relocated"
        case .ambiguous(let results):
            "candidates disagree (" + results.map(\.description).joined(separator: "; ") + ")"
        case .unexpectedInstruction(let why): "cannot patch the instruction: \(why)"
        case .unexpectedValue(let actual, let expected):
            "the instruction holds \(actual), but the program's types give \(expected)"
        case .valueOutOfRange(let value): "target value \(value) does not fit in the instruction"
        case .bitfieldTooWide: "the bitfield cannot be read with one load of at most 8 bytes"
        case .unexpectedAccessSize(let actual, let expected):
            "access size \(actual) bytes, expected \(expected)"
        case .btf(let error): "\(error)"
        }
    }
}

/// Carries a reason out of the untyped internal helpers.
struct COREFailure: Error {
    var reason: COREErrorReason
    init(_ reason: COREErrorReason) { self.reason = reason }
}
