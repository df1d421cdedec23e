import EBPFASM
import Testing

@Suite("Encoding and decoding")
struct EncodingTests {
    @Test("encodes to the hand-built little-endian bytes", arguments: instructionCases)
    func encodesLittleEndian(_ testCase: InstructionCase) throws {
        #expect(try testCase.instruction.encode(byteOrder: .littleEndian) == testCase.littleEndianBytes)
    }

    @Test("encodes to the hand-built big-endian bytes", arguments: instructionCases)
    func encodesBigEndian(_ testCase: InstructionCase) throws {
        #expect(try testCase.instruction.encode(byteOrder: .bigEndian) == testCase.bigEndianBytes)
    }

    @Test("decodes the hand-built bytes in both byte orders", arguments: instructionCases)
    func decodes(_ testCase: InstructionCase) throws {
        var expected = testCase.instruction
        expected.symbolReference = nil
        expected.symbol = nil
        let little = try Instruction.decode(testCase.littleEndianBytes, byteOrder: .littleEndian)
        let big = try Instruction.decode(testCase.bigEndianBytes, byteOrder: .bigEndian)
        #expect(little == [expected])
        #expect(big == [expected])
    }

    @Test("disassembles like llvm-objdump", arguments: instructionCases)
    func disassembles(_ testCase: InstructionCase) {
        #expect(testCase.instruction.description == testCase.text)
    }

    @Test("every table entry is valid")
    func tableIsValid() {
        for testCase in instructionCases {
            #expect(testCase.instruction.problem == nil, "\(testCase.text)")
        }
    }

    @Test("big-endian bytes as clang emits them for bpfeb")
    func bigEndianFromClang() throws {
        // Copied from llvm-objdump of a bpfeb object: the destination is the high nibble.
        let bytes: [UInt8] = [
            0xdb, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,  // r0 = load_acquire((u64 *)(r1 + 0x0))
            0x26, 0x10, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05,  // if w1 > 0x5 goto +0x1
            0xd6, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // if w1 s<= -0x1 goto -0x1
        ]
        let instructions = try Instruction.decode(bytes, byteOrder: .bigEndian)
        #expect(instructions.map(\.description) == [
            "r0 = load_acquire((u64 *)(r1 + 0x0))", "if w1 > 0x5 goto +0x1", "if w1 s<= -0x1 goto -0x1",
        ])
        #expect(try instructions.encoded(byteOrder: .bigEndian) == bytes)
    }

    @Test("a whole program round-trips and lddw counts as one instruction")
    func program() throws {
        let program: [Instruction] = [.loadImm64(.r1, 0x1_0000_0002), .mov64(.r0, 0), .exit()]
        for order in [ByteOrder.littleEndian, .bigEndian] {
            let bytes = try program.encoded(byteOrder: order)
            #expect(bytes.count == 32)
            #expect(try Instruction.decode(bytes, byteOrder: order) == program)
            #expect(try Instruction.decode(bytes[...], byteOrder: order) == program)
            let fromPointer = try bytes.withUnsafeBytes { buffer in
                try Instruction.decode(buffer, byteOrder: order)
            }
            #expect(fromPointer == program)
        }
    }

    @Test("metadata is not encoded but takes part in equality")
    func metadata() throws {
        let plain = Instruction.loadMapPointer(.r1, fileDescriptor: 0)
        let named = Instruction.loadMapPointer(.r1, map: "events").withSymbol("prog")
        #expect(named.symbolReference == "events")
        #expect(try plain.encode(byteOrder: .littleEndian) == named.encode(byteOrder: .littleEndian))
        #expect(plain != named)
        #expect(plain.hasSameEncoding(as: named))
    }

    @Test("encoding rejects fields that do not fit")
    func encodingErrors() {
        var wideConstant = Instruction.mov64(.r0, 0)
        wideConstant.constant = 1 << 32
        #expect(throws: InstructionEncodingError.constantOutOfRange(1 << 32, index: 1)) {
            try [Instruction.exit(), wideConstant].encoded(byteOrder: .littleEndian)
        }
        #expect(throws: InstructionEncodingError.registerOutOfRange(Register(rawValue: 16), index: 0)) {
            try Instruction.mov64(Register(rawValue: 16), 0).encode(byteOrder: .bigEndian)
        }
        #expect(wideConstant.problem == .constantOutOfRange(1 << 32))
    }

    @Test("opcode accessors split the byte by class")
    func opCodeAccessors() {
        let load = OpCode(rawValue: 0x79)
        #expect(load.instructionClass == .ldx)
        #expect(load.size == .doubleWord)
        #expect(load.mode == .memory)
        let jump = OpCode(rawValue: 0x5e)
        #expect(jump.instructionClass == .jmp32)
        #expect(jump.jumpOperation == .notEqual)
        #expect(jump.source == .register)
        let alu = OpCode(rawValue: 0xc4)
        #expect(alu.instructionClass == .alu)
        #expect(alu.aluOperation == .arsh)
        #expect(alu.source == .constant)
        #expect(OpCode(.stx, size: .word, mode: .atomic).rawValue == 0xc3)
        #expect(OpCode(.alu64, .mov, .register).rawValue == 0xbf)
        #expect(OpCode(.jmp, .call, .constant) == .call)
        #expect(Register.framePointer == .r10)
        #expect(ByteOrder.host == .littleEndian || ByteOrder.host == .bigEndian)
    }
}
