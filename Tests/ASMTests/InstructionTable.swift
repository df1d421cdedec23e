import EBPFASM

/// One instruction with its little-endian encoding and llvm-objdump's text for it, as printed by
/// the toolchain's llvm-objdump (LLVM 21) for the same bytes.
struct InstructionCase: Sendable, CustomStringConvertible {
    var instruction: Instruction
    var littleEndianHex: String
    var text: String

    var description: String { text }

    init(_ instruction: Instruction, _ littleEndianHex: String, _ text: String) {
        self.instruction = instruction
        self.littleEndianHex = littleEndianHex
        self.text = text
    }

    var littleEndianBytes: [UInt8] {
        littleEndianHex.split(separator: " ").compactMap { UInt8($0, radix: 16) }
    }

    /// The big-endian encoding, derived field by field from the little-endian one: register
    /// nibbles swap places, the offset and each 32-bit immediate are byte-reversed.
    var bigEndianBytes: [UInt8] {
        var bytes = littleEndianBytes
        for start in stride(from: 0, to: bytes.count, by: 8) {
            let registers = bytes[start + 1]
            bytes[start + 1] = registers << 4 | registers >> 4
            bytes[(start + 2)...(start + 3)].reverse()
            bytes[(start + 4)...(start + 7)].reverse()
        }
        return bytes
    }
}

let instructionCases: [InstructionCase] = [
    // ALU64 and ALU
    .init(.mov64(.r0, 1), "b7 00 00 00 01 00 00 00", "r0 = 0x1"),
    .init(.mov32(.r0, 1), "b4 00 00 00 01 00 00 00", "w0 = 0x1"),
    .init(.mov64(.r0, -1), "b7 00 00 00 ff ff ff ff", "r0 = -0x1"),
    .init(.add64(.r1, Int32.min), "07 01 00 00 00 00 00 80", "r1 += -0x80000000"),
    .init(.add64(.r0, .r1), "0f 10 00 00 00 00 00 00", "r0 += r1"),
    .init(.add32(.r0, .r1), "0c 10 00 00 00 00 00 00", "w0 += w1"),
    .init(.add32(.r0, 1), "04 00 00 00 01 00 00 00", "w0 += 0x1"),
    .init(.sub64(.r0, 5), "17 00 00 00 05 00 00 00", "r0 -= 0x5"),
    .init(.sub32(.r3, .r4), "1c 43 00 00 00 00 00 00", "w3 -= w4"),
    .init(.mul64(.r0, .r1), "2f 10 00 00 00 00 00 00", "r0 *= r1"),
    .init(.mul32(.r0, 7), "24 00 00 00 07 00 00 00", "w0 *= 0x7"),
    .init(.div64(.r0, .r1), "3f 10 00 00 00 00 00 00", "r0 /= r1"),
    .init(.div32(.r0, 3), "34 00 00 00 03 00 00 00", "w0 /= 0x3"),
    .init(.sdiv64(.r0, .r1), "3f 10 01 00 00 00 00 00", "r0 s/= r1"),
    .init(.sdiv64(.r0, 3), "37 00 01 00 03 00 00 00", "r0 s/= 0x3"),
    .init(.sdiv32(.r0, .r1), "3c 10 01 00 00 00 00 00", "w0 s/= w1"),
    .init(.or64(.r0, .r1), "4f 10 00 00 00 00 00 00", "r0 |= r1"),
    .init(.and64(.r0, .r1), "5f 10 00 00 00 00 00 00", "r0 &= r1"),
    .init(.lsh64(.r0, .r1), "6f 10 00 00 00 00 00 00", "r0 <<= r1"),
    .init(.lsh32(.r0, 2), "64 00 00 00 02 00 00 00", "w0 <<= 0x2"),
    .init(.rsh64(.r0, .r1), "7f 10 00 00 00 00 00 00", "r0 >>= r1"),
    .init(.neg64(.r0), "87 00 00 00 00 00 00 00", "r0 = -r0"),
    .init(.neg32(.r0), "84 00 00 00 00 00 00 00", "w0 = -w0"),
    .init(.mod64(.r0, .r1), "9f 10 00 00 00 00 00 00", "r0 %= r1"),
    .init(.mod32(.r0, 3), "94 00 00 00 03 00 00 00", "w0 %= 0x3"),
    .init(.smod64(.r0, .r1), "9f 10 01 00 00 00 00 00", "r0 s%= r1"),
    .init(.smod32(.r0, .r3), "9c 30 01 00 00 00 00 00", "w0 s%= w3"),
    .init(.xor64(.r0, .r1), "af 10 00 00 00 00 00 00", "r0 ^= r1"),
    .init(.mov64(.r0, .r1), "bf 10 00 00 00 00 00 00", "r0 = r1"),
    .init(.mov32(.r0, .r1), "bc 10 00 00 00 00 00 00", "w0 = w1"),
    .init(.movsx64(.r0, .r1, from: .byte), "bf 10 08 00 00 00 00 00", "r0 = (s8)r1"),
    .init(.movsx64(.r0, .r1, from: .halfWord), "bf 10 10 00 00 00 00 00", "r0 = (s16)r1"),
    .init(.movsx64(.r0, .r1, from: .word), "bf 10 20 00 00 00 00 00", "r0 = (s32)r1"),
    .init(.movsx32(.r0, .r1, from: .byte), "bc 10 08 00 00 00 00 00", "w0 = (s8)w1"),
    .init(.movsx32(.r0, .r1, from: .halfWord), "bc 10 10 00 00 00 00 00", "w0 = (s16)w1"),
    .init(.arsh64(.r0, .r1), "cf 10 00 00 00 00 00 00", "r0 s>>= r1"),
    .init(.arsh32(.r0, 3), "c4 00 00 00 03 00 00 00", "w0 s>>= 0x3"),
    .init(.byteSwap(.r1, width: .bits16), "d7 01 00 00 10 00 00 00", "r1 = bswap16 r1"),
    .init(.byteSwap(.r1, width: .bits32), "d7 01 00 00 20 00 00 00", "r1 = bswap32 r1"),
    .init(.byteSwap(.r1, width: .bits64), "d7 01 00 00 40 00 00 00", "r1 = bswap64 r1"),
    .init(.toBigEndian(.r1, width: .bits16), "dc 01 00 00 10 00 00 00", "r1 = be16 r1"),
    .init(.toBigEndian(.r1, width: .bits32), "dc 01 00 00 20 00 00 00", "r1 = be32 r1"),
    .init(.toBigEndian(.r1, width: .bits64), "dc 01 00 00 40 00 00 00", "r1 = be64 r1"),
    .init(.toLittleEndian(.r1, width: .bits16), "d4 01 00 00 10 00 00 00", "r1 = le16 r1"),
    .init(.toLittleEndian(.r1, width: .bits32), "d4 01 00 00 20 00 00 00", "r1 = le32 r1"),
    .init(.toLittleEndian(.r1, width: .bits64), "d4 01 00 00 40 00 00 00", "r1 = le64 r1"),
    .init(.addressSpaceCast(.r0, .r1, to: 0, from: 1), "bf 10 01 00 01 00 00 00", "r0 = addr_space_cast(r1, 0x0, 0x1)"),
    .init(.addressSpaceCast(.r0, .r1, to: 1, from: 0), "bf 10 01 00 00 00 01 00", "r0 = addr_space_cast(r1, 0x1, 0x0)"),
    // JMP and JMP32
    .init(.jumpIf(.r1, .equal, 0, offset: 1), "15 01 01 00 00 00 00 00", "if r1 == 0x0 goto +0x1"),
    .init(.jumpIf(.r1, .notEqual, .r2, offset: 1), "5d 21 01 00 00 00 00 00", "if r1 != r2 goto +0x1"),
    .init(.jumpIf(.r1, .greaterThan, 0, offset: 1), "25 01 01 00 00 00 00 00", "if r1 > 0x0 goto +0x1"),
    .init(.jumpIf(.r1, .greaterOrEqual, 0, offset: 1), "35 01 01 00 00 00 00 00", "if r1 >= 0x0 goto +0x1"),
    .init(.jumpIf(.r1, .lessThan, 0, offset: 1), "a5 01 01 00 00 00 00 00", "if r1 < 0x0 goto +0x1"),
    .init(.jumpIf(.r1, .lessOrEqual, 0, offset: 1), "b5 01 01 00 00 00 00 00", "if r1 <= 0x0 goto +0x1"),
    .init(.jumpIf(.r1, .signedGreaterThan, 0, offset: 1), "65 01 01 00 00 00 00 00", "if r1 s> 0x0 goto +0x1"),
    .init(.jumpIf(.r1, .signedGreaterOrEqual, 0, offset: 1), "75 01 01 00 00 00 00 00", "if r1 s>= 0x0 goto +0x1"),
    .init(.jumpIf(.r1, .signedLessThan, 0, offset: 1), "c5 01 01 00 00 00 00 00", "if r1 s< 0x0 goto +0x1"),
    .init(.jumpIf(.r1, .signedLessOrEqual, 0, offset: 1), "d5 01 01 00 00 00 00 00", "if r1 s<= 0x0 goto +0x1"),
    .init(.jumpIf(.r1, .bitsSet, 0, offset: 1), "45 01 01 00 00 00 00 00", "if r1 & 0x0 goto +0x1"),
    .init(.jumpIf(.r1, .equal, Int32.min, offset: Int16.min), "15 01 00 80 00 00 00 80", "if r1 == -0x80000000 goto -0x8000"),
    .init(.jump32If(.r1, .equal, 0, offset: 1), "16 01 01 00 00 00 00 00", "if w1 == 0x0 goto +0x1"),
    .init(.jump32If(.r1, .notEqual, .r2, offset: 1), "5e 21 01 00 00 00 00 00", "if w1 != w2 goto +0x1"),
    .init(.jump32If(.r1, .bitsSet, .r2, offset: 1), "4e 21 01 00 00 00 00 00", "if w1 & w2 goto +0x1"),
    .init(.jump32If(.r1, .greaterThan, 5, offset: 1), "26 01 01 00 05 00 00 00", "if w1 > 0x5 goto +0x1"),
    .init(.jump32If(.r1, .signedLessThan, .r2, offset: 1), "ce 21 01 00 00 00 00 00", "if w1 s< w2 goto +0x1"),
    .init(.jump32If(.r1, .signedLessOrEqual, -1, offset: -1), "d6 01 ff ff ff ff ff ff", "if w1 s<= -0x1 goto -0x1"),
    .init(.jump(offset: 1), "05 00 01 00 00 00 00 00", "goto +0x1"),
    .init(.jump(offset: Int16.max), "05 00 ff 7f 00 00 00 00", "goto +0x7fff"),
    .init(.longJump(offset: 1), "06 00 00 00 01 00 00 00", "gotol +0x1"),
    .init(.longJump(offset: Int32.min), "06 00 00 00 00 00 00 80", "gotol -0x80000000"),
    .init(.mayGoto(offset: 1), "e5 00 01 00 00 00 00 00", "may_goto +0x1"),
    .init(.mayGoto(offset: -2), "e5 00 fe ff 00 00 00 00", "may_goto -0x2"),
    .init(.callHelper(1), "85 00 00 00 01 00 00 00", "call 0x1"),
    .init(.call(.subprogram(offset: 6)), "85 10 00 00 06 00 00 00", "call 0x6"),
    .init(.call(.kernelFunction(btfID: 5, moduleIndex: 0)), "85 20 00 00 05 00 00 00", "call 0x5"),
    .init(.call(.kernelFunction(btfID: 5, moduleIndex: 1)), "85 20 01 00 05 00 00 00", "call 0x5"),
    .init(.callRegister(.r1), "8d 01 00 00 00 00 00 00", "callx r1"),
    .init(.exit(), "95 00 00 00 00 00 00 00", "exit"),
    // LD
    .init(.loadImm64(.r1, 0x1_2345_6789), "18 01 00 00 89 67 45 23 00 00 00 00 01 00 00 00", "r1 = 0x123456789 ll"),
    .init(.loadImm64(.r1, -1), "18 01 00 00 ff ff ff ff 00 00 00 00 ff ff ff ff", "r1 = -0x1 ll"),
    .init(.loadImm64(.r1, Int64.min), "18 01 00 00 00 00 00 00 00 00 00 00 00 00 00 80", "r1 = -0x8000000000000000 ll"),
    .init(.loadMapPointer(.r1, fileDescriptor: 5), "18 11 00 00 05 00 00 00 00 00 00 00 00 00 00 00", "ld_pseudo r1, 0x1, 0x5"),
    .init(.loadMapPointer(.r1, fileDescriptor: -1), "18 11 00 00 ff ff ff ff 00 00 00 00 00 00 00 00", "ld_pseudo r1, 0x1, 0xffffffff"),
    .init(.loadMapValue(.r1, fileDescriptor: 5, offset: 8), "18 21 00 00 05 00 00 00 00 00 00 00 08 00 00 00", "ld_pseudo r1, 0x2, 0x5"),
    .init(.loadKernelVariable(.r1, btfID: 5), "18 31 00 00 05 00 00 00 00 00 00 00 00 00 00 00", "ld_pseudo r1, 0x3, 0x5"),
    .init(.loadImm64(.r1, 5, source: .function), "18 41 00 00 05 00 00 00 00 00 00 00 00 00 00 00", "ld_pseudo r1, 0x4, 0x5"),
    .init(.loadMapPointer(.r1, mapIndex: 5), "18 51 00 00 05 00 00 00 00 00 00 00 00 00 00 00", "ld_pseudo r1, 0x5, 0x5"),
    .init(.loadMapValue(.r1, mapIndex: 5), "18 61 00 00 05 00 00 00 00 00 00 00 00 00 00 00", "ld_pseudo r1, 0x6, 0x5"),
    .init(.loadAbsolute(offset: 12, size: .byte), "30 00 00 00 0c 00 00 00", "r0 = *(u8 *)skb[0xc]"),
    .init(.loadAbsolute(offset: 12, size: .halfWord), "28 00 00 00 0c 00 00 00", "r0 = *(u16 *)skb[0xc]"),
    .init(.loadAbsolute(offset: 12, size: .word), "20 00 00 00 0c 00 00 00", "r0 = *(u32 *)skb[0xc]"),
    .init(.loadIndirect(.r1, size: .byte), "50 10 00 00 00 00 00 00", "r0 = *(u8 *)skb[r1]"),
    .init(.loadIndirect(.r1, size: .halfWord), "48 10 00 00 00 00 00 00", "r0 = *(u16 *)skb[r1]"),
    .init(.loadIndirect(.r1, size: .word), "40 10 00 00 00 00 00 00", "r0 = *(u32 *)skb[r1]"),
    // LDX
    .init(.load(.r1, from: .r10, offset: -8, size: .doubleWord), "79 a1 f8 ff 00 00 00 00", "r1 = *(u64 *)(r10 - 0x8)"),
    .init(.load(.r1, from: .r10, offset: -8, size: .word), "61 a1 f8 ff 00 00 00 00", "w1 = *(u32 *)(r10 - 0x8)"),
    .init(.load(.r1, from: .r10, offset: 8, size: .halfWord), "69 a1 08 00 00 00 00 00", "w1 = *(u16 *)(r10 + 0x8)"),
    .init(.load(.r1, from: .r10, size: .byte), "71 a1 00 00 00 00 00 00", "w1 = *(u8 *)(r10 + 0x0)"),
    .init(.load(.r1, from: .r10, offset: Int16.min, size: .doubleWord), "79 a1 00 80 00 00 00 00", "r1 = *(u64 *)(r10 - 0x8000)"),
    .init(.loadSignExtend(.r0, from: .r1, size: .byte), "91 10 00 00 00 00 00 00", "r0 = *(s8 *)(r1 + 0x0)"),
    .init(.loadSignExtend(.r0, from: .r1, size: .halfWord), "89 10 00 00 00 00 00 00", "r0 = *(s16 *)(r1 + 0x0)"),
    .init(.loadSignExtend(.r0, from: .r1, size: .word), "81 10 00 00 00 00 00 00", "r0 = *(s32 *)(r1 + 0x0)"),
    // ST and STX
    .init(.store(1, to: .r10, offset: -8, size: .doubleWord), "7a 0a f8 ff 01 00 00 00", "*(u64 *)(r10 - 0x8) = 0x1"),
    .init(.store(1, to: .r10, offset: -8, size: .word), "62 0a f8 ff 01 00 00 00", "*(u32 *)(r10 - 0x8) = 0x1"),
    .init(.store(1, to: .r10, offset: -8, size: .halfWord), "6a 0a f8 ff 01 00 00 00", "*(u16 *)(r10 - 0x8) = 0x1"),
    .init(.store(-1, to: .r10, offset: -8, size: .byte), "72 0a f8 ff ff ff ff ff", "*(u8 *)(r10 - 0x8) = -0x1"),
    .init(.store(.r1, to: .r10, offset: -8, size: .doubleWord), "7b 1a f8 ff 00 00 00 00", "*(u64 *)(r10 - 0x8) = r1"),
    .init(.store(.r1, to: .r10, offset: -8, size: .word), "63 1a f8 ff 00 00 00 00", "*(u32 *)(r10 - 0x8) = w1"),
    .init(.store(.r1, to: .r10, offset: -8, size: .halfWord), "6b 1a f8 ff 00 00 00 00", "*(u16 *)(r10 - 0x8) = w1"),
    .init(.store(.r1, to: .r10, offset: -8, size: .byte), "73 1a f8 ff 00 00 00 00", "*(u8 *)(r10 - 0x8) = w1"),
    // Atomics
    .init(.atomic(.add, .r2, on: .r1, size: .doubleWord), "db 21 00 00 00 00 00 00", "lock *(u64 *)(r1 + 0x0) += r2"),
    .init(.atomic(.add, .r2, on: .r1, size: .word), "c3 21 00 00 00 00 00 00", "lock *(u32 *)(r1 + 0x0) += w2"),
    .init(.atomic(.or, .r2, on: .r1, size: .doubleWord), "db 21 00 00 40 00 00 00", "lock *(u64 *)(r1 + 0x0) |= r2"),
    .init(.atomic(.or, .r2, on: .r1, size: .word), "c3 21 00 00 40 00 00 00", "lock *(u32 *)(r1 + 0x0) |= w2"),
    .init(.atomic(.and, .r2, on: .r1, size: .doubleWord), "db 21 00 00 50 00 00 00", "lock *(u64 *)(r1 + 0x0) &= r2"),
    .init(.atomic(.xor, .r2, on: .r1, size: .doubleWord), "db 21 00 00 a0 00 00 00", "lock *(u64 *)(r1 + 0x0) ^= r2"),
    .init(.atomic(.fetchAdd, .r0, on: .r1, size: .doubleWord), "db 01 00 00 01 00 00 00", "r0 = atomic_fetch_add((u64 *)(r1 + 0x0), r0)"),
    .init(.atomic(.fetchAdd, .r0, on: .r1, size: .word), "c3 01 00 00 01 00 00 00", "w0 = atomic_fetch_add((u32 *)(r1 + 0x0), w0)"),
    .init(.atomic(.fetchOr, .r0, on: .r1, size: .doubleWord), "db 01 00 00 41 00 00 00", "r0 = atomic_fetch_or((u64 *)(r1 + 0x0), r0)"),
    .init(.atomic(.fetchOr, .r0, on: .r1, size: .word), "c3 01 00 00 41 00 00 00", "w0 = atomic_fetch_or((u32 *)(r1 + 0x0), w0)"),
    .init(.atomic(.fetchAnd, .r0, on: .r1, size: .doubleWord), "db 01 00 00 51 00 00 00", "r0 = atomic_fetch_and((u64 *)(r1 + 0x0), r0)"),
    .init(.atomic(.fetchXor, .r0, on: .r1, size: .doubleWord), "db 01 00 00 a1 00 00 00", "r0 = atomic_fetch_xor((u64 *)(r1 + 0x0), r0)"),
    .init(.atomic(.exchange, .r0, on: .r1, size: .doubleWord), "db 01 00 00 e1 00 00 00", "r0 = xchg_64(r1 + 0x0, r0)"),
    .init(.atomic(.exchange, .r0, on: .r1, size: .word), "c3 01 00 00 e1 00 00 00", "w0 = xchg32_32(r1 + 0x0, w0)"),
    .init(.atomic(.compareExchange, .r2, on: .r1, size: .doubleWord), "db 21 00 00 f1 00 00 00", "r0 = cmpxchg_64(r1 + 0x0, r0, r2)"),
    .init(.atomic(.compareExchange, .r2, on: .r1, size: .word), "c3 21 00 00 f1 00 00 00", "w0 = cmpxchg32_32(r1 + 0x0, w0, w2)"),
    .init(.loadAcquire(.r0, from: .r1, size: .doubleWord), "db 10 00 00 00 01 00 00", "r0 = load_acquire((u64 *)(r1 + 0x0))"),
    .init(.loadAcquire(.r0, from: .r1, size: .word), "c3 10 00 00 00 01 00 00", "w0 = load_acquire((u32 *)(r1 + 0x0))"),
    .init(.loadAcquire(.r0, from: .r1, size: .halfWord), "cb 10 00 00 00 01 00 00", "w0 = load_acquire((u16 *)(r1 + 0x0))"),
    .init(.loadAcquire(.r0, from: .r1, size: .byte), "d3 10 00 00 00 01 00 00", "w0 = load_acquire((u8 *)(r1 + 0x0))"),
    .init(.storeRelease(.r2, to: .r1, size: .doubleWord), "db 21 00 00 10 01 00 00", "store_release((u64 *)(r1 + 0x0), r2)"),
    .init(.storeRelease(.r2, to: .r1, size: .word), "c3 21 00 00 10 01 00 00", "store_release((u32 *)(r1 + 0x0), w2)"),
    .init(.storeRelease(.r2, to: .r1, size: .halfWord), "cb 21 00 00 10 01 00 00", "store_release((u16 *)(r1 + 0x0), w2)"),
    .init(.storeRelease(.r2, to: .r1, size: .byte), "d3 21 00 00 10 01 00 00", "store_release((u8 *)(r1 + 0x0), w2)"),
]
