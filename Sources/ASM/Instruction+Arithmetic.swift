// Constructors for arithmetic instructions, so programs read like the assembly they produce:
// `.mov64(.r0, 1)`, `.add32(.r1, .r2)`.

extension Instruction {
    /// `dst op= imm` in the given class (``InstructionClass/alu`` or ``InstructionClass/alu64``).
    public static func alu(
        _ operation: ALUOperation,
        _ instructionClass: InstructionClass,
        _ destination: Register,
        _ value: Int32,
        offset: Int16 = 0
    ) -> Instruction {
        Instruction(
            opCode: OpCode(instructionClass, operation, .constant),
            destination: destination,
            offset: offset,
            constant: Int64(value)
        )
    }

    /// `dst op= src` in the given class (``InstructionClass/alu`` or ``InstructionClass/alu64``).
    public static func alu(
        _ operation: ALUOperation,
        _ instructionClass: InstructionClass,
        _ destination: Register,
        _ source: Register,
        offset: Int16 = 0
    ) -> Instruction {
        Instruction(opCode: OpCode(instructionClass, operation, .register), destination: destination, source: source, offset: offset)
    }

    // MARK: 64-bit

    /// `dst = imm` (sign-extended). `BPF_ALU64 | BPF_MOV | BPF_K`.
    public static func mov64(_ dst: Register, _ value: Int32) -> Instruction { alu(.mov, .alu64, dst, value) }
    /// `dst = src`. `BPF_ALU64 | BPF_MOV | BPF_X`.
    public static func mov64(_ dst: Register, _ src: Register) -> Instruction { alu(.mov, .alu64, dst, src) }
    /// `dst += imm`. `BPF_ALU64 | BPF_ADD | BPF_K`.
    public static func add64(_ dst: Register, _ value: Int32) -> Instruction { alu(.add, .alu64, dst, value) }
    /// `dst += src`. `BPF_ALU64 | BPF_ADD | BPF_X`.
    public static func add64(_ dst: Register, _ src: Register) -> Instruction { alu(.add, .alu64, dst, src) }
    /// `dst -= imm`. `BPF_ALU64 | BPF_SUB | BPF_K`.
    public static func sub64(_ dst: Register, _ value: Int32) -> Instruction { alu(.sub, .alu64, dst, value) }
    /// `dst -= src`. `BPF_ALU64 | BPF_SUB | BPF_X`.
    public static func sub64(_ dst: Register, _ src: Register) -> Instruction { alu(.sub, .alu64, dst, src) }
    /// `dst *= imm`. `BPF_ALU64 | BPF_MUL | BPF_K`.
    public static func mul64(_ dst: Register, _ value: Int32) -> Instruction { alu(.mul, .alu64, dst, value) }
    /// `dst *= src`. `BPF_ALU64 | BPF_MUL | BPF_X`.
    public static func mul64(_ dst: Register, _ src: Register) -> Instruction { alu(.mul, .alu64, dst, src) }
    /// Unsigned `dst /= imm`. `BPF_ALU64 | BPF_DIV | BPF_K`.
    public static func div64(_ dst: Register, _ value: Int32) -> Instruction { alu(.div, .alu64, dst, value) }
    /// Unsigned `dst /= src`. `BPF_ALU64 | BPF_DIV | BPF_X`.
    public static func div64(_ dst: Register, _ src: Register) -> Instruction { alu(.div, .alu64, dst, src) }
    /// Signed `dst s/= imm`. `BPF_ALU64 | BPF_DIV | BPF_K`, offset 1. Requires Linux 6.6.
    public static func sdiv64(_ dst: Register, _ value: Int32) -> Instruction { alu(.div, .alu64, dst, value, offset: 1) }
    /// Signed `dst s/= src`. `BPF_ALU64 | BPF_DIV | BPF_X`, offset 1. Requires Linux 6.6.
    public static func sdiv64(_ dst: Register, _ src: Register) -> Instruction { alu(.div, .alu64, dst, src, offset: 1) }
    /// Unsigned `dst %= imm`. `BPF_ALU64 | BPF_MOD | BPF_K`.
    public static func mod64(_ dst: Register, _ value: Int32) -> Instruction { alu(.mod, .alu64, dst, value) }
    /// Unsigned `dst %= src`. `BPF_ALU64 | BPF_MOD | BPF_X`.
    public static func mod64(_ dst: Register, _ src: Register) -> Instruction { alu(.mod, .alu64, dst, src) }
    /// Signed `dst s%= imm`. `BPF_ALU64 | BPF_MOD | BPF_K`, offset 1. Requires Linux 6.6.
    public static func smod64(_ dst: Register, _ value: Int32) -> Instruction { alu(.mod, .alu64, dst, value, offset: 1) }
    /// Signed `dst s%= src`. `BPF_ALU64 | BPF_MOD | BPF_X`, offset 1. Requires Linux 6.6.
    public static func smod64(_ dst: Register, _ src: Register) -> Instruction { alu(.mod, .alu64, dst, src, offset: 1) }
    /// `dst |= imm`. `BPF_ALU64 | BPF_OR | BPF_K`.
    public static func or64(_ dst: Register, _ value: Int32) -> Instruction { alu(.or, .alu64, dst, value) }
    /// `dst |= src`. `BPF_ALU64 | BPF_OR | BPF_X`.
    public static func or64(_ dst: Register, _ src: Register) -> Instruction { alu(.or, .alu64, dst, src) }
    /// `dst &= imm`. `BPF_ALU64 | BPF_AND | BPF_K`.
    public static func and64(_ dst: Register, _ value: Int32) -> Instruction { alu(.and, .alu64, dst, value) }
    /// `dst &= src`. `BPF_ALU64 | BPF_AND | BPF_X`.
    public static func and64(_ dst: Register, _ src: Register) -> Instruction { alu(.and, .alu64, dst, src) }
    /// `dst ^= imm`. `BPF_ALU64 | BPF_XOR | BPF_K`.
    public static func xor64(_ dst: Register, _ value: Int32) -> Instruction { alu(.xor, .alu64, dst, value) }
    /// `dst ^= src`. `BPF_ALU64 | BPF_XOR | BPF_X`.
    public static func xor64(_ dst: Register, _ src: Register) -> Instruction { alu(.xor, .alu64, dst, src) }
    /// `dst <<= imm`. `BPF_ALU64 | BPF_LSH | BPF_K`.
    public static func lsh64(_ dst: Register, _ value: Int32) -> Instruction { alu(.lsh, .alu64, dst, value) }
    /// `dst <<= src`. `BPF_ALU64 | BPF_LSH | BPF_X`.
    public static func lsh64(_ dst: Register, _ src: Register) -> Instruction { alu(.lsh, .alu64, dst, src) }
    /// Logical `dst >>= imm`. `BPF_ALU64 | BPF_RSH | BPF_K`.
    public static func rsh64(_ dst: Register, _ value: Int32) -> Instruction { alu(.rsh, .alu64, dst, value) }
    /// Logical `dst >>= src`. `BPF_ALU64 | BPF_RSH | BPF_X`.
    public static func rsh64(_ dst: Register, _ src: Register) -> Instruction { alu(.rsh, .alu64, dst, src) }
    /// Arithmetic `dst s>>= imm`. `BPF_ALU64 | BPF_ARSH | BPF_K`.
    public static func arsh64(_ dst: Register, _ value: Int32) -> Instruction { alu(.arsh, .alu64, dst, value) }
    /// Arithmetic `dst s>>= src`. `BPF_ALU64 | BPF_ARSH | BPF_X`.
    public static func arsh64(_ dst: Register, _ src: Register) -> Instruction { alu(.arsh, .alu64, dst, src) }
    /// `dst = -dst`. `BPF_ALU64 | BPF_NEG`.
    public static func neg64(_ dst: Register) -> Instruction { alu(.neg, .alu64, dst, 0) }

    // MARK: 32-bit

    /// `wdst = imm`, zeroing the upper half. `BPF_ALU | BPF_MOV | BPF_K`.
    public static func mov32(_ dst: Register, _ value: Int32) -> Instruction { alu(.mov, .alu, dst, value) }
    /// `wdst = wsrc`. `BPF_ALU | BPF_MOV | BPF_X`.
    public static func mov32(_ dst: Register, _ src: Register) -> Instruction { alu(.mov, .alu, dst, src) }
    /// `wdst += imm`. `BPF_ALU | BPF_ADD | BPF_K`.
    public static func add32(_ dst: Register, _ value: Int32) -> Instruction { alu(.add, .alu, dst, value) }
    /// `wdst += wsrc`. `BPF_ALU | BPF_ADD | BPF_X`.
    public static func add32(_ dst: Register, _ src: Register) -> Instruction { alu(.add, .alu, dst, src) }
    /// `wdst -= imm`. `BPF_ALU | BPF_SUB | BPF_K`.
    public static func sub32(_ dst: Register, _ value: Int32) -> Instruction { alu(.sub, .alu, dst, value) }
    /// `wdst -= wsrc`. `BPF_ALU | BPF_SUB | BPF_X`.
    public static func sub32(_ dst: Register, _ src: Register) -> Instruction { alu(.sub, .alu, dst, src) }
    /// `wdst *= imm`. `BPF_ALU | BPF_MUL | BPF_K`.
    public static func mul32(_ dst: Register, _ value: Int32) -> Instruction { alu(.mul, .alu, dst, value) }
    /// `wdst *= wsrc`. `BPF_ALU | BPF_MUL | BPF_X`.
    public static func mul32(_ dst: Register, _ src: Register) -> Instruction { alu(.mul, .alu, dst, src) }
    /// Unsigned `wdst /= imm`. `BPF_ALU | BPF_DIV | BPF_K`.
    public static func div32(_ dst: Register, _ value: Int32) -> Instruction { alu(.div, .alu, dst, value) }
    /// Unsigned `wdst /= wsrc`. `BPF_ALU | BPF_DIV | BPF_X`.
    public static func div32(_ dst: Register, _ src: Register) -> Instruction { alu(.div, .alu, dst, src) }
    /// Signed `wdst s/= imm`. `BPF_ALU | BPF_DIV | BPF_K`, offset 1. Requires Linux 6.6.
    public static func sdiv32(_ dst: Register, _ value: Int32) -> Instruction { alu(.div, .alu, dst, value, offset: 1) }
    /// Signed `wdst s/= wsrc`. `BPF_ALU | BPF_DIV | BPF_X`, offset 1. Requires Linux 6.6.
    public static func sdiv32(_ dst: Register, _ src: Register) -> Instruction { alu(.div, .alu, dst, src, offset: 1) }
    /// Unsigned `wdst %= imm`. `BPF_ALU | BPF_MOD | BPF_K`.
    public static func mod32(_ dst: Register, _ value: Int32) -> Instruction { alu(.mod, .alu, dst, value) }
    /// Unsigned `wdst %= wsrc`. `BPF_ALU | BPF_MOD | BPF_X`.
    public static func mod32(_ dst: Register, _ src: Register) -> Instruction { alu(.mod, .alu, dst, src) }
    /// Signed `wdst s%= imm`. `BPF_ALU | BPF_MOD | BPF_K`, offset 1. Requires Linux 6.6.
    public static func smod32(_ dst: Register, _ value: Int32) -> Instruction { alu(.mod, .alu, dst, value, offset: 1) }
    /// Signed `wdst s%= wsrc`. `BPF_ALU | BPF_MOD | BPF_X`, offset 1. Requires Linux 6.6.
    public static func smod32(_ dst: Register, _ src: Register) -> Instruction { alu(.mod, .alu, dst, src, offset: 1) }
    /// `wdst |= imm`. `BPF_ALU | BPF_OR | BPF_K`.
    public static func or32(_ dst: Register, _ value: Int32) -> Instruction { alu(.or, .alu, dst, value) }
    /// `wdst |= wsrc`. `BPF_ALU | BPF_OR | BPF_X`.
    public static func or32(_ dst: Register, _ src: Register) -> Instruction { alu(.or, .alu, dst, src) }
    /// `wdst &= imm`. `BPF_ALU | BPF_AND | BPF_K`.
    public static func and32(_ dst: Register, _ value: Int32) -> Instruction { alu(.and, .alu, dst, value) }
    /// `wdst &= wsrc`. `BPF_ALU | BPF_AND | BPF_X`.
    public static func and32(_ dst: Register, _ src: Register) -> Instruction { alu(.and, .alu, dst, src) }
    /// `wdst ^= imm`. `BPF_ALU | BPF_XOR | BPF_K`.
    public static func xor32(_ dst: Register, _ value: Int32) -> Instruction { alu(.xor, .alu, dst, value) }
    /// `wdst ^= wsrc`. `BPF_ALU | BPF_XOR | BPF_X`.
    public static func xor32(_ dst: Register, _ src: Register) -> Instruction { alu(.xor, .alu, dst, src) }
    /// `wdst <<= imm`. `BPF_ALU | BPF_LSH | BPF_K`.
    public static func lsh32(_ dst: Register, _ value: Int32) -> Instruction { alu(.lsh, .alu, dst, value) }
    /// `wdst <<= wsrc`. `BPF_ALU | BPF_LSH | BPF_X`.
    public static func lsh32(_ dst: Register, _ src: Register) -> Instruction { alu(.lsh, .alu, dst, src) }
    /// Logical `wdst >>= imm`. `BPF_ALU | BPF_RSH | BPF_K`.
    public static func rsh32(_ dst: Register, _ value: Int32) -> Instruction { alu(.rsh, .alu, dst, value) }
    /// Logical `wdst >>= wsrc`. `BPF_ALU | BPF_RSH | BPF_X`.
    public static func rsh32(_ dst: Register, _ src: Register) -> Instruction { alu(.rsh, .alu, dst, src) }
    /// Arithmetic `wdst s>>= imm`. `BPF_ALU | BPF_ARSH | BPF_K`.
    public static func arsh32(_ dst: Register, _ value: Int32) -> Instruction { alu(.arsh, .alu, dst, value) }
    /// Arithmetic `wdst s>>= wsrc`. `BPF_ALU | BPF_ARSH | BPF_X`.
    public static func arsh32(_ dst: Register, _ src: Register) -> Instruction { alu(.arsh, .alu, dst, src) }
    /// `wdst = -wdst`. `BPF_ALU | BPF_NEG`.
    public static func neg32(_ dst: Register) -> Instruction { alu(.neg, .alu, dst, 0) }

    // MARK: Sign extension, byte order, address spaces

    /// `dst = (s8/s16/s32)src`: `BPF_ALU64 | BPF_MOV | BPF_X` with the source width in bits as the
    /// offset. `size` is ``AccessSize/byte``, ``AccessSize/halfWord`` or ``AccessSize/word``. Requires Linux 6.6.
    public static func movsx64(_ dst: Register, _ src: Register, from size: AccessSize) -> Instruction {
        alu(.mov, .alu64, dst, src, offset: Int16(size.byteCount * 8))
    }

    /// `wdst = (s8/s16)wsrc`: `BPF_ALU | BPF_MOV | BPF_X` with the source width in bits as the
    /// offset. `size` is ``AccessSize/byte`` or ``AccessSize/halfWord``. Requires Linux 6.6.
    public static func movsx32(_ dst: Register, _ src: Register, from size: AccessSize) -> Instruction {
        alu(.mov, .alu, dst, src, offset: Int16(size.byteCount * 8))
    }

    /// `dst = le16/le32/le64 dst`: convert from host to little endian. `BPF_ALU | BPF_END | BPF_TO_LE`.
    public static func toLittleEndian(_ dst: Register, width: ByteSwapWidth) -> Instruction {
        alu(.end, .alu, dst, width.rawValue)
    }

    /// `dst = be16/be32/be64 dst`: convert from host to big endian. `BPF_ALU | BPF_END | BPF_TO_BE`.
    public static func toBigEndian(_ dst: Register, width: ByteSwapWidth) -> Instruction {
        Instruction(opCode: OpCode(.alu, .end, .register), destination: dst, constant: Int64(width.rawValue))
    }

    /// `dst = bswap16/32/64 dst`: unconditional byte swap. `BPF_ALU64 | BPF_END`. Requires Linux 6.6.
    public static func byteSwap(_ dst: Register, width: ByteSwapWidth) -> Instruction {
        alu(.end, .alu64, dst, width.rawValue)
    }

    /// `dst = addr_space_cast(src, destinationSpace, sourceSpace)`: `BPF_ALU64 | BPF_MOV | BPF_X`
    /// with offset 1 and the address spaces in the immediate. Requires Linux 6.9.
    public static func addressSpaceCast(
        _ dst: Register,
        _ src: Register,
        to destinationSpace: UInt16,
        from sourceSpace: UInt16
    ) -> Instruction {
        let spaces = Int32(bitPattern: UInt32(destinationSpace) << 16 | UInt32(sourceSpace))
        return Instruction(
            opCode: OpCode(.alu64, .mov, .register),
            destination: dst,
            source: src,
            offset: 1,
            constant: Int64(spaces)
        )
    }
}
