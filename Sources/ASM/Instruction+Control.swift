// Constructors for jumps, calls and exit. A jump to a label carries the label's name as its
// ``Instruction/symbolReference``; ``ProgramBuilder`` turns it into an offset.

/// What a call instruction calls.
public enum CallTarget: Hashable, Sendable {
    /// A helper function by id (`call 1`).
    case helper(Int32)
    /// A BPF subprogram at a known distance in slots from the slot after the call.
    case subprogram(offset: Int32)
    /// A BPF subprogram or label by name, resolved by ``ProgramBuilder`` or the linker.
    case function(String)
    /// A kernel function by BTF id; `moduleIndex` selects the module BTF in `fd_array` (0 for vmlinux).
    case kernelFunction(btfID: Int32, moduleIndex: Int16)
    /// A kernel function by name, resolved against kernel BTF when the program is loaded.
    case kernelFunctionNamed(String)
}

extension Instruction {
    // MARK: Conditional jumps

    /// `if dst <cond> imm goto +offset`, comparing 64 bits. `BPF_JMP | cond | BPF_K`.
    public static func jumpIf(_ dst: Register, _ condition: JumpOperation, _ value: Int32, offset: Int16) -> Instruction {
        Instruction(opCode: OpCode(.jmp, condition, .constant), destination: dst, offset: offset, constant: Int64(value))
    }

    /// `if dst <cond> src goto +offset`, comparing 64 bits. `BPF_JMP | cond | BPF_X`.
    public static func jumpIf(_ dst: Register, _ condition: JumpOperation, _ src: Register, offset: Int16) -> Instruction {
        Instruction(opCode: OpCode(.jmp, condition, .register), destination: dst, source: src, offset: offset)
    }

    /// `if dst <cond> imm goto label`, comparing 64 bits.
    public static func jumpIf(_ dst: Register, _ condition: JumpOperation, _ value: Int32, label: String) -> Instruction {
        jumpIf(dst, condition, value, offset: 0).withReference(label)
    }

    /// `if dst <cond> src goto label`, comparing 64 bits.
    public static func jumpIf(_ dst: Register, _ condition: JumpOperation, _ src: Register, label: String) -> Instruction {
        jumpIf(dst, condition, src, offset: 0).withReference(label)
    }

    /// `if wdst <cond> imm goto +offset`, comparing 32 bits. `BPF_JMP32 | cond | BPF_K`.
    public static func jump32If(_ dst: Register, _ condition: JumpOperation, _ value: Int32, offset: Int16) -> Instruction {
        Instruction(opCode: OpCode(.jmp32, condition, .constant), destination: dst, offset: offset, constant: Int64(value))
    }

    /// `if wdst <cond> wsrc goto +offset`, comparing 32 bits. `BPF_JMP32 | cond | BPF_X`.
    public static func jump32If(_ dst: Register, _ condition: JumpOperation, _ src: Register, offset: Int16) -> Instruction {
        Instruction(opCode: OpCode(.jmp32, condition, .register), destination: dst, source: src, offset: offset)
    }

    /// `if wdst <cond> imm goto label`, comparing 32 bits.
    public static func jump32If(_ dst: Register, _ condition: JumpOperation, _ value: Int32, label: String) -> Instruction {
        jump32If(dst, condition, value, offset: 0).withReference(label)
    }

    /// `if wdst <cond> wsrc goto label`, comparing 32 bits.
    public static func jump32If(_ dst: Register, _ condition: JumpOperation, _ src: Register, label: String) -> Instruction {
        jump32If(dst, condition, src, offset: 0).withReference(label)
    }

    // MARK: Unconditional jumps

    /// `goto +offset`. `BPF_JMP | BPF_JA`.
    public static func jump(offset: Int16) -> Instruction {
        Instruction(opCode: .jump, offset: offset)
    }

    /// `goto label`.
    public static func jump(label: String) -> Instruction {
        jump(offset: 0).withReference(label)
    }

    /// `gotol +offset`, with a 32-bit offset. `BPF_JMP32 | BPF_JA`. Requires Linux 6.6.
    public static func longJump(offset: Int32) -> Instruction {
        Instruction(opCode: .longJump, constant: Int64(offset))
    }

    /// `gotol label`.
    public static func longJump(label: String) -> Instruction {
        longJump(offset: 0).withReference(label)
    }

    /// `may_goto +offset`: the verifier bounds how often the fall-through is taken.
    /// `BPF_JMP | BPF_JCOND`. Requires Linux 6.9.
    public static func mayGoto(offset: Int16) -> Instruction {
        Instruction(opCode: .conditionalPseudoJump, offset: offset)
    }

    /// `may_goto label`.
    public static func mayGoto(label: String) -> Instruction {
        mayGoto(offset: 0).withReference(label)
    }

    // MARK: Calls and exit

    /// A call. `BPF_JMP | BPF_CALL`, with the source field saying what is called.
    public static func call(_ target: CallTarget) -> Instruction {
        switch target {
        case .helper(let id):
            Instruction(opCode: .call, constant: Int64(id))
        case .subprogram(let offset):
            Instruction(opCode: .call, source: Register(rawValue: CallKind.subprogram.rawValue), constant: Int64(offset))
        case .function(let name):
            Instruction(opCode: .call, source: Register(rawValue: CallKind.subprogram.rawValue), constant: -1)
                .withReference(name)
        case .kernelFunction(let id, let moduleIndex):
            Instruction(
                opCode: .call,
                source: Register(rawValue: CallKind.kernelFunction.rawValue),
                offset: moduleIndex,
                constant: Int64(id)
            )
        case .kernelFunctionNamed(let name):
            Instruction(opCode: .call, source: Register(rawValue: CallKind.kernelFunction.rawValue), constant: -1)
                .withReference(name)
        }
    }

    /// `call id`: a helper function call.
    public static func callHelper(_ id: Int32) -> Instruction {
        call(.helper(id))
    }

    /// `callx reg`: LLVM's call through a register (`BPF_JMP | BPF_CALL | BPF_X`, register in the
    /// destination field). The kernel does not accept it.
    public static func callRegister(_ register: Register) -> Instruction {
        Instruction(opCode: .callRegister, destination: register)
    }

    /// `exit`. `BPF_JMP | BPF_EXIT`.
    public static func exit() -> Instruction {
        Instruction(opCode: .exit)
    }
}
