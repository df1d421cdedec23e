/// One eBPF instruction, as the kernel's `struct bpf_insn` plus linker metadata.
///
/// The fields hold exactly what the encoding holds, so any decoded instruction re-encodes to the
/// same bytes. The 16-byte `lddw` (``OpCode/loadImmediate64``) is a single value whose
/// ``constant`` is the full 64-bit immediate; every other instruction is 8 bytes and its
/// ``constant`` is the sign-extended 32-bit immediate.
///
/// ``symbolReference`` and ``symbol`` are metadata for linking: they are never encoded.
///
/// Equality and hashing compare every field, metadata included: two instructions that encode the
/// same but refer to different maps are different for the linker. Use ``hasSameEncoding(as:)`` to
/// compare only what is encoded.
public struct Instruction: Sendable, Hashable {
    /// The operation byte.
    public var opCode: OpCode
    /// The destination register field.
    public var destination: Register
    /// The source register field; for `lddw` and calls it holds a ``LoadImmediateSource`` or ``CallKind``.
    public var source: Register
    /// The signed 16-bit offset field.
    public var offset: Int16
    /// The immediate: 64 bits for `lddw`, otherwise a sign-extended 32-bit value.
    public var constant: Int64
    /// Both metadata names in one shared, immutable box, nil for the many instructions that have
    /// neither: an instruction then costs one reference count to copy instead of two strings',
    /// and decoding thousands of them allocates nothing per instruction.
    var metadata: InstructionMetadata?

    /// The name of the map, function or other symbol this instruction refers to, filled in by the
    /// object reader or the builder and resolved by the linker.
    public var symbolReference: String? {
        get { metadata?.reference }
        set { metadata = InstructionMetadata.make(reference: newValue, symbol: metadata?.symbol) }
    }

    /// The name of the function that starts at this instruction.
    public var symbol: String? {
        get { metadata?.symbol }
        set { metadata = InstructionMetadata.make(reference: metadata?.reference, symbol: newValue) }
    }

    public init(
        opCode: OpCode,
        destination: Register = .r0,
        source: Register = .r0,
        offset: Int16 = 0,
        constant: Int64 = 0,
        symbolReference: String? = nil,
        symbol: String? = nil
    ) {
        self.opCode = opCode
        self.destination = destination
        self.source = source
        self.offset = offset
        self.constant = constant
        self.metadata = InstructionMetadata.make(reference: symbolReference, symbol: symbol)
    }

    /// The size of one raw instruction slot in bytes.
    public static let slotSize = 8

    /// Whether this is the 16-byte `lddw`.
    public var isWide: Bool {
        opCode == .loadImmediate64
    }

    /// The number of 8-byte slots the encoding takes: 2 for `lddw`, otherwise 1.
    public var slotCount: Int {
        isWide ? 2 : 1
    }

    /// The number of bytes the encoding takes: 16 for `lddw`, otherwise 8.
    public var byteCount: Int {
        slotCount * Instruction.slotSize
    }

    /// Whether the encoded fields (everything but the metadata) are equal.
    public func hasSameEncoding(as other: Instruction) -> Bool {
        opCode == other.opCode && destination == other.destination && source == other.source
            && offset == other.offset && constant == other.constant
    }

    public static func == (lhs: Instruction, rhs: Instruction) -> Bool {
        guard lhs.hasSameEncoding(as: rhs) else { return false }
        if lhs.metadata === rhs.metadata { return true }
        return lhs.symbolReference == rhs.symbolReference && lhs.symbol == rhs.symbol
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(opCode)
        hasher.combine(destination)
        hasher.combine(source)
        hasher.combine(offset)
        hasher.combine(constant)
        hasher.combine(symbolReference)
        hasher.combine(symbol)
    }

    /// A copy with ``symbolReference`` set.
    public func withReference(_ name: String?) -> Instruction {
        var copy = self
        copy.symbolReference = name
        return copy
    }

    /// A copy with ``symbol`` set.
    public func withSymbol(_ name: String?) -> Instruction {
        var copy = self
        copy.symbol = name
        return copy
    }
}

/// The linker metadata of an instruction. Never mutated: setting a name on an instruction makes a
/// new box, so instructions stay values.
final class InstructionMetadata: Sendable {
    let reference: String?
    let symbol: String?

    fileprivate init(reference: String?, symbol: String?) {
        self.reference = reference
        self.symbol = symbol
    }

    /// A box for the two names, or nil when both are nil.
    static func make(reference: String?, symbol: String?) -> InstructionMetadata? {
        if reference == nil && symbol == nil { return nil }
        return InstructionMetadata(reference: reference, symbol: symbol)
    }
}

// MARK: - Reading the instruction

extension Instruction {
    /// The low 32 bits of the immediate, as encoded in the first slot.
    public var immediate32: Int32 {
        Int32(truncatingIfNeeded: constant)
    }

    /// The meaning of a `lddw`'s immediate, or nil for other instructions.
    public var loadImmediateSource: LoadImmediateSource? {
        isWide ? LoadImmediateSource(rawValue: source.rawValue) : nil
    }

    /// What a `call` (`BPF_JMP | BPF_CALL`, immediate form) calls, or nil for other instructions.
    public var callKind: CallKind? {
        opCode == .call ? CallKind(rawValue: source.rawValue) : nil
    }

    /// Whether this is a call of a helper function.
    public var isHelperCall: Bool { callKind == .helper }

    /// Whether this is a call of a BPF subprogram (`BPF_PSEUDO_CALL`).
    public var isSubprogramCall: Bool { callKind == .subprogram }

    /// Whether this is a call of a kernel function (`BPF_PSEUDO_KFUNC_CALL`).
    public var isKernelFunctionCall: Bool { callKind == .kernelFunction }

    /// Whether this is `exit`.
    public var isExit: Bool { opCode == .exit }

    /// The atomic operation of a `BPF_STX | BPF_ATOMIC` instruction, or nil for other instructions.
    public var atomicOperation: AtomicOperation? {
        opCode.instructionClass == .stx && opCode.mode == .atomic ? AtomicOperation(rawValue: immediate32) : nil
    }

    /// Whether this is a jump within the program (conditional, `ja`, `gotol` or `may_goto`), as
    /// opposed to a call or exit.
    public var isBranch: Bool {
        guard opCode.isJump else { return false }
        let operation = opCode.jumpOperation
        if operation.isComparison { return true }
        switch opCode {
        case .jump, .longJump, .conditionalPseudoJump: return true
        default: return false
        }
    }

    /// For branches, subprogram calls and `lddw` of a function address: the distance to the target
    /// in raw slots, counted from the slot after this instruction. Nil for everything else.
    ///
    /// `gotol` and calls hold it in the immediate, other branches in the offset.
    public var relativeTarget: Int? {
        if opCode == .longJump { return Int(immediate32) }
        if isBranch { return Int(offset) }
        if isSubprogramCall { return Int(immediate32) }
        if loadImmediateSource == .function { return Int(immediate32) }
        return nil
    }
}

/// A symbol reference that many instructions share: an object reader names the same map in
/// hundreds of instructions, and giving each the same box saves an allocation per instruction
/// (and a deallocation when the program goes away).
package struct SharedSymbolReference: Sendable {
    fileprivate let metadata: InstructionMetadata

    package init(_ name: String) {
        metadata = InstructionMetadata(reference: name, symbol: nil)
    }

    /// The name the instructions refer to.
    package var name: String { metadata.reference ?? "" }
}

extension Instruction {
    /// Sets ``symbolReference`` to `shared`'s name, sharing its box when the instruction starts no
    /// function (the common case); equal to setting the name.
    package mutating func setSymbolReference(_ shared: SharedSymbolReference) {
        if let symbol = metadata?.symbol {
            metadata = InstructionMetadata.make(reference: shared.name, symbol: symbol)
        } else {
            metadata = shared.metadata
        }
    }

    /// Whether ``symbolReference`` is set, read without copying the name.
    package var hasSymbolReference: Bool {
        metadata?.reference != nil
    }
}
