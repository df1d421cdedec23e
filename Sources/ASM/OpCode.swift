/// The operation byte of an eBPF instruction.
///
/// The low three bits select the ``InstructionClass``. The remaining five bits are read one of two
/// ways: load and store classes split them into an ``AccessSize`` and an ``AddressingMode``; arithmetic and jump
/// classes split them into an operation and an ``OperandSource``. The accessors for both readings are
/// always available; which one is meaningful depends on ``instructionClass``.
public struct OpCode: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8

    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    /// A load or store opcode.
    public init(_ instructionClass: InstructionClass, size: AccessSize, mode: AddressingMode) {
        rawValue = (instructionClass.rawValue & 0x07) | (size.rawValue & 0x18) | (mode.rawValue & 0xe0)
    }

    /// An arithmetic opcode (``InstructionClass/alu`` or ``InstructionClass/alu64``).
    public init(_ instructionClass: InstructionClass, _ operation: ALUOperation, _ source: OperandSource) {
        rawValue = (instructionClass.rawValue & 0x07) | (operation.rawValue & 0xf0) | (source.rawValue & 0x08)
    }

    /// A jump opcode (``InstructionClass/jmp`` or ``InstructionClass/jmp32``).
    public init(_ instructionClass: InstructionClass, _ operation: JumpOperation, _ source: OperandSource) {
        rawValue = (instructionClass.rawValue & 0x07) | (operation.rawValue & 0xf0) | (source.rawValue & 0x08)
    }

    /// The instruction class, the low three bits.
    public var instructionClass: InstructionClass {
        InstructionClass(rawValue: rawValue & 0x07)
    }

    /// The access size of a load or store.
    public var size: AccessSize {
        AccessSize(rawValue: rawValue & 0x18)
    }

    /// The addressing mode of a load or store.
    public var mode: AddressingMode {
        AddressingMode(rawValue: rawValue & 0xe0)
    }

    /// The arithmetic operation of an ``InstructionClass/alu`` or ``InstructionClass/alu64`` opcode.
    public var aluOperation: ALUOperation {
        ALUOperation(rawValue: rawValue & 0xf0)
    }

    /// The jump operation of a ``InstructionClass/jmp`` or ``InstructionClass/jmp32`` opcode.
    public var jumpOperation: JumpOperation {
        JumpOperation(rawValue: rawValue & 0xf0)
    }

    /// The operand source of an arithmetic or jump opcode.
    public var source: OperandSource {
        OperandSource(rawValue: rawValue & 0x08)
    }

    /// Whether this opcode belongs to a load or store class (LD, LDX, ST, STX).
    public var isLoadOrStore: Bool {
        instructionClass.rawValue < InstructionClass.alu.rawValue
    }

    /// Whether this opcode belongs to an arithmetic class (ALU, ALU64).
    public var isArithmetic: Bool {
        instructionClass == .alu || instructionClass == .alu64
    }

    /// Whether this opcode belongs to a jump class (JMP, JMP32).
    public var isJump: Bool {
        instructionClass == .jmp || instructionClass == .jmp32
    }

    /// The 16-byte load of a 64-bit immediate, `BPF_LD | BPF_IMM | BPF_DW` (`lddw`).
    public static let loadImmediate64 = OpCode(.ld, size: .doubleWord, mode: .immediate)
    /// `BPF_JMP | BPF_CALL`.
    public static let call = OpCode(.jmp, .call, .constant)
    /// `BPF_JMP | BPF_CALL | BPF_X`, LLVM's `callx`: a call through a register held in the destination field.
    public static let callRegister = OpCode(.jmp, .call, .register)
    /// `BPF_JMP | BPF_EXIT`.
    public static let exit = OpCode(.jmp, .exit, .constant)
    /// `BPF_JMP | BPF_JA`, the unconditional jump with a 16-bit offset (`goto`).
    public static let jump = OpCode(.jmp, .always, .constant)
    /// `BPF_JMP32 | BPF_JA`, the unconditional jump with a 32-bit offset in the immediate (`gotol`).
    public static let longJump = OpCode(.jmp32, .always, .constant)
    /// `BPF_JMP | BPF_JCOND`, the verifier-bounded `may_goto`.
    public static let conditionalPseudoJump = OpCode(.jmp, .conditionalPseudo, .constant)
}

/// The instruction class, the low three bits of an ``OpCode``.
public struct InstructionClass: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Non-standard loads: the 64-bit immediate and the legacy packet loads. The kernel's `BPF_LD`.
    public static let ld = InstructionClass(rawValue: 0x00)
    /// Loads from memory into a register. The kernel's `BPF_LDX`.
    public static let ldx = InstructionClass(rawValue: 0x01)
    /// Stores of an immediate to memory. The kernel's `BPF_ST`.
    public static let st = InstructionClass(rawValue: 0x02)
    /// Stores of a register to memory, and atomics. The kernel's `BPF_STX`.
    public static let stx = InstructionClass(rawValue: 0x03)
    /// 32-bit arithmetic. The kernel's `BPF_ALU`.
    public static let alu = InstructionClass(rawValue: 0x04)
    /// 64-bit jumps, calls and exit. The kernel's `BPF_JMP`.
    public static let jmp = InstructionClass(rawValue: 0x05)
    /// 32-bit jumps. The kernel's `BPF_JMP32`.
    public static let jmp32 = InstructionClass(rawValue: 0x06)
    /// 64-bit arithmetic. The kernel's `BPF_ALU64`.
    public static let alu64 = InstructionClass(rawValue: 0x07)
}

/// The access size of a load or store opcode.
public struct AccessSize: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Four bytes. The kernel's `BPF_W`.
    public static let word = AccessSize(rawValue: 0x00)
    /// Two bytes. The kernel's `BPF_H`.
    public static let halfWord = AccessSize(rawValue: 0x08)
    /// One byte. The kernel's `BPF_B`.
    public static let byte = AccessSize(rawValue: 0x10)
    /// Eight bytes. The kernel's `BPF_DW`.
    public static let doubleWord = AccessSize(rawValue: 0x18)

    /// The number of bytes accessed.
    public var byteCount: Int {
        switch self {
        case .byte: 1
        case .halfWord: 2
        case .word: 4
        default: 8
        }
    }
}

/// The addressing mode of a load or store opcode.
public struct AddressingMode: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The 64-bit immediate load. The kernel's `BPF_IMM`.
    public static let immediate = AddressingMode(rawValue: 0x00)
    /// Legacy packet access at a constant offset. The kernel's `BPF_ABS`.
    public static let absolute = AddressingMode(rawValue: 0x20)
    /// Legacy packet access at a register plus a constant. The kernel's `BPF_IND`.
    public static let indirect = AddressingMode(rawValue: 0x40)
    /// Regular memory access. The kernel's `BPF_MEM`.
    public static let memory = AddressingMode(rawValue: 0x60)
    /// Sign-extending memory load. The kernel's `BPF_MEMSX`.
    public static let memorySignExtend = AddressingMode(rawValue: 0x80)
    /// Atomic memory operation. The kernel's `BPF_ATOMIC`.
    public static let atomic = AddressingMode(rawValue: 0xc0)
}

/// Whether the second operand of an arithmetic or jump instruction is the immediate or the source register.
public struct OperandSource: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The 32-bit immediate. The kernel's `BPF_K`; for byte swaps, `BPF_TO_LE`.
    public static let constant = OperandSource(rawValue: 0x00)
    /// The source register. The kernel's `BPF_X`; for byte swaps, `BPF_TO_BE`.
    public static let register = OperandSource(rawValue: 0x08)
}

/// The operation of an arithmetic opcode.
public struct ALUOperation: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The kernel's `BPF_ADD`.
    public static let add = ALUOperation(rawValue: 0x00)
    /// The kernel's `BPF_SUB`.
    public static let sub = ALUOperation(rawValue: 0x10)
    /// The kernel's `BPF_MUL`.
    public static let mul = ALUOperation(rawValue: 0x20)
    /// Unsigned division, or signed division when the offset is 1. The kernel's `BPF_DIV`.
    public static let div = ALUOperation(rawValue: 0x30)
    /// The kernel's `BPF_OR`.
    public static let or = ALUOperation(rawValue: 0x40)
    /// The kernel's `BPF_AND`.
    public static let and = ALUOperation(rawValue: 0x50)
    /// Left shift. The kernel's `BPF_LSH`.
    public static let lsh = ALUOperation(rawValue: 0x60)
    /// Logical right shift. The kernel's `BPF_RSH`.
    public static let rsh = ALUOperation(rawValue: 0x70)
    /// Negation of the destination. The kernel's `BPF_NEG`.
    public static let neg = ALUOperation(rawValue: 0x80)
    /// Unsigned modulo, or signed modulo when the offset is 1. The kernel's `BPF_MOD`.
    public static let mod = ALUOperation(rawValue: 0x90)
    /// The kernel's `BPF_XOR`.
    public static let xor = ALUOperation(rawValue: 0xa0)
    /// Move; sign-extending move when the offset is 8, 16 or 32; `addr_space_cast` when the offset is 1.
    /// The kernel's `BPF_MOV`.
    public static let mov = ALUOperation(rawValue: 0xb0)
    /// Arithmetic right shift. The kernel's `BPF_ARSH`.
    public static let arsh = ALUOperation(rawValue: 0xc0)
    /// Byte order conversion and byte swap. The kernel's `BPF_END`.
    public static let end = ALUOperation(rawValue: 0xd0)
}

/// The operation of a jump opcode.
public struct JumpOperation: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Unconditional jump. The kernel's `BPF_JA`.
    public static let always = JumpOperation(rawValue: 0x00)
    /// `==`. The kernel's `BPF_JEQ`.
    public static let equal = JumpOperation(rawValue: 0x10)
    /// Unsigned `>`. The kernel's `BPF_JGT`.
    public static let greaterThan = JumpOperation(rawValue: 0x20)
    /// Unsigned `>=`. The kernel's `BPF_JGE`.
    public static let greaterOrEqual = JumpOperation(rawValue: 0x30)
    /// `dst & src != 0`. The kernel's `BPF_JSET`.
    public static let bitsSet = JumpOperation(rawValue: 0x40)
    /// `!=`. The kernel's `BPF_JNE`.
    public static let notEqual = JumpOperation(rawValue: 0x50)
    /// Signed `>`. The kernel's `BPF_JSGT`.
    public static let signedGreaterThan = JumpOperation(rawValue: 0x60)
    /// Signed `>=`. The kernel's `BPF_JSGE`.
    public static let signedGreaterOrEqual = JumpOperation(rawValue: 0x70)
    /// Function call. The kernel's `BPF_CALL`.
    public static let call = JumpOperation(rawValue: 0x80)
    /// Return from the program or subprogram. The kernel's `BPF_EXIT`.
    public static let exit = JumpOperation(rawValue: 0x90)
    /// Unsigned `<`. The kernel's `BPF_JLT`.
    public static let lessThan = JumpOperation(rawValue: 0xa0)
    /// Unsigned `<=`. The kernel's `BPF_JLE`.
    public static let lessOrEqual = JumpOperation(rawValue: 0xb0)
    /// Signed `<`. The kernel's `BPF_JSLT`.
    public static let signedLessThan = JumpOperation(rawValue: 0xc0)
    /// Signed `<=`. The kernel's `BPF_JSLE`.
    public static let signedLessOrEqual = JumpOperation(rawValue: 0xd0)
    /// A jump the verifier may take or not (`may_goto`). The kernel's `BPF_JCOND`.
    public static let conditionalPseudo = JumpOperation(rawValue: 0xe0)

    /// Whether this is one of the twelve comparisons (not `ja`, call, exit or `jcond`).
    public var isComparison: Bool {
        switch self {
        case .always, .call, .exit, .conditionalPseudo: false
        default: rawValue <= JumpOperation.signedLessOrEqual.rawValue
        }
    }
}
