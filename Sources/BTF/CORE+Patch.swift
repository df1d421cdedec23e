import EBPFASM

/// What applying a fixup to one instruction gives.
public enum COREPatchOutcome: Equatable, Sendable {
    /// The instruction with its immediate, offset or access size changed.
    case patched(Instruction)
    /// The instruction is poisoned: replaced by one call of the invalid helper per raw slot it
    /// took (two for a `lddw`), so the raw layout and every jump offset stay as they were.
    case replaced([Instruction])
    /// The instruction does not fit the relocation.
    case failed(COREErrorReason)
}

extension COREFixup {
    /// The call of the invalid helper that stands in for a poisoned instruction.
    public static var poisonInstruction: Instruction { .callHelper(CORE.poisonHelperID) }

    /// Applies the fixup to `instruction` the way libbpf patches instructions: the immediate of
    /// `ALU`/`ALU64` with a constant operand, the offset of `LDX`/`ST`/`STX` (and their access
    /// size when the field's size differs and may change), the 64-bit immediate of a plain `lddw`.
    /// The instruction must first hold the local value, where the fixup validates it.
    public func patch(_ instruction: Instruction) -> COREPatchOutcome {
        if isPoisoned { return poisoned(instruction) }
        let opCode = instruction.opCode
        switch opCode.instructionClass {
        case .alu, .alu64:
            // The immediate of a byte swap (`BPF_END`) is its width, not a value: relocating it
            // would turn the swap into another instruction or an invalid one.
            guard opCode.aluOperation != .end else {
                return .failed(.unexpectedInstruction("a byte swap's immediate is its width, not a relocatable value"))
            }
            guard opCode.source == .constant else {
                return .failed(.unexpectedInstruction("an ALU instruction with a register operand"))
            }
            if validatesLocalValue, UInt64(bitPattern: Int64(instruction.immediate32)) != localValue {
                return .failed(.unexpectedValue(actual: Int64(instruction.immediate32), expected: localValue))
            }
            // A 32-bit operation reads the immediate as 32 bits, so any UInt32 fits; a 64-bit one
            // sign-extends it, so only values up to Int32.max keep their meaning.
            let largest = opCode.instructionClass == .alu ? UInt64(UInt32.max) : UInt64(Int32.max)
            guard targetValue <= largest else { return .failed(.valueOutOfRange(targetValue)) }
            var copy = instruction
            copy.constant = Int64(Int32(bitPattern: UInt32(targetValue)))
            return .patched(copy)
        case .ldx, .st, .stx:
            if validatesLocalValue, UInt64(bitPattern: Int64(instruction.offset)) != localValue {
                return .failed(.unexpectedValue(actual: Int64(instruction.offset), expected: localValue))
            }
            guard targetValue <= UInt64(Int16.max) else { return .failed(.valueOutOfRange(targetValue)) }
            if accessSizeCannotChange { return poisoned(instruction) }
            var copy = instruction
            copy.offset = Int16(targetValue)
            if targetAccessSize != localAccessSize {
                let actual = opCode.size.byteCount
                guard actual == Int(localAccessSize) else {
                    return .failed(.unexpectedAccessSize(actual: actual, expected: localAccessSize))
                }
                guard let size = Self.accessSize(bytes: targetAccessSize) else {
                    return .failed(.unexpectedAccessSize(actual: Int(targetAccessSize), expected: localAccessSize))
                }
                copy.opCode = OpCode(opCode.instructionClass, size: size, mode: opCode.mode)
            }
            return .patched(copy)
        case .ld:
            guard instruction.isWide, instruction.source.rawValue == 0, instruction.offset == 0 else {
                return .failed(.unexpectedInstruction("only a lddw of a plain 64-bit value can be relocated"))
            }
            if validatesLocalValue, UInt64(bitPattern: instruction.constant) != localValue {
                return .failed(.unexpectedValue(actual: instruction.constant, expected: localValue))
            }
            var copy = instruction
            copy.constant = Int64(bitPattern: targetValue)
            return .patched(copy)
        default:
            return .failed(.unexpectedInstruction("opcode 0x\(String(opCode.rawValue, radix: 16)) cannot be relocated"))
        }
    }

    private func poisoned(_ instruction: Instruction) -> COREPatchOutcome {
        var first = Self.poisonInstruction
        first.symbol = instruction.symbol
        return .replaced(Array(repeating: Self.poisonInstruction, count: instruction.slotCount).enumerated().map {
            $0.offset == 0 ? first : $0.element
        })
    }

    private static func accessSize(bytes: UInt32) -> AccessSize? {
        switch bytes {
        case 1: .byte
        case 2: .halfWord
        case 4: .word
        case 8: .doubleWord
        default: nil
        }
    }
}
