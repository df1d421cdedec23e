/// A field of an instruction, as named in an ``InstructionProblem``.
public enum InstructionField: Hashable, Sendable {
    case destination
    case source
    case offset
    case immediate
}

/// Why an instruction is not one the instruction set defines.
///
/// Reserved fields are checked where the kernel's verifier rejects a non-zero value and no
/// compiler emits one, so a valid object never trips them.
public enum InstructionProblem: Hashable, Sendable {
    /// The opcode byte names no instruction.
    case unknownOpCode(OpCode)
    /// A register field holds a number above 10.
    case invalidRegister(Register)
    /// A field the instruction does not use is not zero.
    case reservedFieldNotZero(InstructionField)
    /// The offset selects no variant of the instruction (e.g. a sign-extending move from 7 bits).
    case unsupportedOffset(Int16)
    /// The immediate selects no variant of the instruction (a byte swap width, an atomic operation).
    case unsupportedImmediate(Int64)
    /// The source field of a `lddw` or call names no defined kind.
    case unsupportedSource(UInt8)
    /// The constant of an 8-byte instruction does not fit in 32 bits.
    case constantOutOfRange(Int64)
}

extension InstructionProblem: CustomStringConvertible {
    public var description: String {
        switch self {
        case .unknownOpCode(let opCode): "unknown opcode 0x\(String(opCode.rawValue, radix: 16))"
        case .invalidRegister(let register): "invalid register number \(register.rawValue)"
        case .reservedFieldNotZero(let field): "reserved \(field) field is not zero"
        case .unsupportedOffset(let offset): "unsupported offset \(offset)"
        case .unsupportedImmediate(let value): "unsupported immediate \(value)"
        case .unsupportedSource(let value): "unsupported source kind \(value)"
        case .constantOutOfRange(let value): "constant \(value) does not fit in 32 bits"
        }
    }
}

extension Instruction {
    /// What makes this instruction invalid, or nil when the instruction set defines it.
    ///
    /// Decoding rejects every instruction that has a problem; instructions built in Swift can be
    /// checked with this before they are loaded.
    public var problem: InstructionProblem? {
        guard destination.isValid else { return .invalidRegister(destination) }
        switch opCode.instructionClass {
        case .ld: return loadProblem
        case .ldx, .st, .stx: return memoryProblem
        case .alu, .alu64: return arithmeticProblem
        default: return jumpProblem
        }
    }

    /// Whether the instruction set defines this instruction (``problem`` is nil).
    public var isValid: Bool {
        problem == nil
    }

    private func requireZero(_ field: InstructionField) -> InstructionProblem? {
        let isZero =
            switch field {
            case .destination: destination.rawValue == 0
            case .source: source.rawValue == 0
            case .offset: offset == 0
            case .immediate: constant == 0
            }
        return isZero ? nil : .reservedFieldNotZero(field)
    }

    private var sourceRegisterProblem: InstructionProblem? {
        source.isValid ? nil : .invalidRegister(source)
    }

    private var narrowConstantProblem: InstructionProblem? {
        Int32(exactly: constant) == nil ? .constantOutOfRange(constant) : nil
    }

    private var loadProblem: InstructionProblem? {
        if opCode == .loadImmediate64 {
            guard LoadImmediateSource(rawValue: source.rawValue).isDefined else {
                return .unsupportedSource(source.rawValue)
            }
            return requireZero(.offset)
        }
        let mode = opCode.mode
        guard mode == .absolute || mode == .indirect, opCode.size != .doubleWord else {
            return .unknownOpCode(opCode)
        }
        if let problem = narrowConstantProblem { return problem }
        if mode == .absolute, let problem = requireZero(.source) { return problem }
        if let problem = sourceRegisterProblem { return problem }
        return requireZero(.destination) ?? requireZero(.offset)
    }

    private var memoryProblem: InstructionProblem? {
        if let problem = narrowConstantProblem { return problem }
        let mode = opCode.mode
        switch (opCode.instructionClass, mode) {
        case (.ldx, .memory), (.stx, .memory):
            return sourceRegisterProblem ?? requireZero(.immediate)
        case (.ldx, .memorySignExtend):
            guard opCode.size != .doubleWord else { return .unknownOpCode(opCode) }
            return sourceRegisterProblem ?? requireZero(.immediate)
        case (.st, .memory):
            return requireZero(.source)
        case (.stx, .atomic):
            let operation = AtomicOperation(rawValue: immediate32)
            guard operation.isDefined(for: opCode.size) else {
                let anyDefined = AtomicOperation.allCases.contains { $0.isDefined(for: opCode.size) }
                return anyDefined ? .unsupportedImmediate(constant) : .unknownOpCode(opCode)
            }
            return sourceRegisterProblem
        default:
            return .unknownOpCode(opCode)
        }
    }

    private var arithmeticProblem: InstructionProblem? {
        if let problem = narrowConstantProblem { return problem }
        let operation = opCode.aluOperation
        let is64 = opCode.instructionClass == .alu64
        let usesRegister = opCode.source == .register
        switch operation {
        case .add, .sub, .mul, .or, .and, .lsh, .rsh, .xor, .arsh:
            if let problem = requireZero(.offset) { return problem }
        case .div, .mod:
            guard offset == 0 || offset == 1 else { return .unsupportedOffset(offset) }
        case .neg:
            guard !usesRegister else { return .unknownOpCode(opCode) }
            return requireZero(.source) ?? requireZero(.offset) ?? requireZero(.immediate)
        case .mov:
            guard usesRegister else { break }
            switch offset {
            case 0, 8, 16: break
            case 32 where is64: break
            case 1 where is64:
                // addr_space_cast: the immediate holds both address spaces.
                return sourceRegisterProblem
            default: return .unsupportedOffset(offset)
            }
        case .end:
            guard !(is64 && usesRegister) else { return .unknownOpCode(opCode) }
            guard ByteSwapWidth(rawValue: immediate32) != nil else { return .unsupportedImmediate(constant) }
            return requireZero(.source) ?? requireZero(.offset)
        default:
            return .unknownOpCode(opCode)
        }
        if operation == .mov, !usesRegister, let problem = requireZero(.offset) { return problem }
        if usesRegister {
            return sourceRegisterProblem ?? requireZero(.immediate)
        }
        return requireZero(.source)
    }

    private var jumpProblem: InstructionProblem? {
        if let problem = narrowConstantProblem { return problem }
        let operation = opCode.jumpOperation
        let is64 = opCode.instructionClass == .jmp
        let usesRegister = opCode.source == .register
        if operation.isComparison {
            if usesRegister {
                return sourceRegisterProblem ?? requireZero(.immediate)
            }
            return requireZero(.source)
        }
        switch (operation, is64, usesRegister) {
        case (.always, true, false), (.conditionalPseudo, true, false):
            return requireZero(.destination) ?? requireZero(.source) ?? requireZero(.immediate)
        case (.always, false, false):
            return requireZero(.destination) ?? requireZero(.source) ?? requireZero(.offset)
        case (.call, true, false):
            let kind = CallKind(rawValue: source.rawValue)
            guard kind.isDefined else { return .unsupportedSource(source.rawValue) }
            if let problem = requireZero(.destination) { return problem }
            // A kernel function call's offset selects the module BTF in fd_array.
            return kind == .kernelFunction ? nil : requireZero(.offset)
        case (.call, true, true):
            return requireZero(.source) ?? requireZero(.offset) ?? requireZero(.immediate)
        case (.exit, true, false):
            return requireZero(.destination) ?? requireZero(.source) ?? requireZero(.offset)
                ?? requireZero(.immediate)
        default:
            return .unknownOpCode(opCode)
        }
    }
}
