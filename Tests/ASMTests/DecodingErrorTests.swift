import EBPFASM
import Testing

/// A small deterministic generator, so a failing random input can be reproduced from the seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

@Suite("Decoding errors")
struct DecodingErrorTests {
    private func decode(_ bytes: [UInt8], _ order: ByteOrder = .littleEndian) throws(InstructionDecodingError) {
        _ = try Instruction.decode(bytes, byteOrder: order)
    }

    private let exit: [UInt8] = [0x95, 0, 0, 0, 0, 0, 0, 0]

    @Test("length must be a multiple of 8")
    func length() {
        #expect(throws: InstructionDecodingError.lengthNotMultipleOfSlotSize(length: 12)) {
            try decode(exit + [0, 0, 0, 0])
        }
        #expect(throws: InstructionDecodingError.lengthNotMultipleOfSlotSize(length: 1)) { try decode([0x95]) }
    }

    @Test("empty input is an empty program")
    func empty() throws {
        #expect(try Instruction.decode([UInt8](), byteOrder: .littleEndian).isEmpty)
    }

    @Test("lddw at the end without its second half")
    func truncatedWide() {
        #expect(throws: InstructionDecodingError.truncatedWideInstruction(index: 1, byteOffset: 8)) {
            try decode(exit + [0x18, 0x01, 0, 0, 1, 0, 0, 0])
        }
    }

    @Test("lddw second half must have zero opcode, registers and offset", arguments: [8, 9, 10, 11])
    func malformedWide(byteIndex: Int) {
        var bytes: [UInt8] = [0x18, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0]
        bytes[byteIndex] = 1
        #expect(throws: InstructionDecodingError.malformedWideInstruction(index: 1, byteOffset: 8)) {
            try decode(exit + bytes + exit)
        }
    }

    @Test("unknown opcodes", arguments: [
        0x00, 0x08, 0x38, 0x58, 0x60, 0x99, 0xe4, 0xe7, 0xf4, 0xdf, 0x8c, 0x8f, 0x0d, 0x0e, 0x86, 0x96, 0xe6, 0xf5, 0xfd,
        0x22, 0xc2, 0x83, 0xa3, 0xe3, 0x19, 0x9d,
    ] as [UInt8])
    func unknownOpCode(raw: UInt8) {
        #expect(throws: InstructionDecodingError.invalidInstruction(.unknownOpCode(OpCode(rawValue: raw)), index: 1, byteOffset: 8)) {
            try decode(exit + [raw, 0, 0, 0, 0, 0, 0, 0])
        }
    }

    @Test("registers above r10", arguments: [ByteOrder.littleEndian, .bigEndian])
    func invalidRegister(order: ByteOrder) {
        let dst11: UInt8 = order == .littleEndian ? 0x0b : 0xb0
        let src15: UInt8 = order == .littleEndian ? 0xf0 : 0x0f
        #expect(throws: InstructionDecodingError.invalidInstruction(.invalidRegister(Register(rawValue: 11)), index: 0, byteOffset: 0)) {
            try decode([0xb7, dst11, 0, 0, 0, 0, 0, 0], order)
        }
        #expect(throws: InstructionDecodingError.invalidInstruction(.invalidRegister(Register(rawValue: 15)), index: 0, byteOffset: 0)) {
            try decode([0xbf, src15, 0, 0, 0, 0, 0, 0], order)
        }
    }

    @Test("reserved fields")
    func reservedFields() {
        let cases: [([UInt8], InstructionField)] = [
            ([0x07, 0x10, 0, 0, 1, 0, 0, 0], .source),  // add K with a source register
            ([0x0f, 0x10, 0, 0, 1, 0, 0, 0], .immediate),  // add X with an immediate
            ([0x0f, 0x10, 1, 0, 0, 0, 0, 0], .offset),  // add with an offset
            ([0xb7, 0x00, 8, 0, 1, 0, 0, 0], .offset),  // mov K with an offset
            ([0xbf, 0x10, 0, 0, 1, 0, 0, 0], .immediate),  // mov X with an immediate
            ([0x87, 0x00, 0, 0, 1, 0, 0, 0], .immediate),  // neg with an immediate
            ([0xd4, 0x01, 1, 0, 16, 0, 0, 0], .offset),  // le16 with an offset
            ([0x95, 0x01, 0, 0, 0, 0, 0, 0], .destination),  // exit with a register
            ([0x05, 0x00, 1, 0, 1, 0, 0, 0], .immediate),  // ja with an immediate
            ([0x06, 0x00, 1, 0, 1, 0, 0, 0], .offset),  // gotol with an offset
            ([0xe5, 0x10, 1, 0, 0, 0, 0, 0], .source),  // may_goto with a source
            ([0x85, 0x01, 0, 0, 1, 0, 0, 0], .destination),  // call with a destination
            ([0x85, 0x00, 1, 0, 1, 0, 0, 0], .offset),  // helper call with an offset
            ([0x15, 0x21, 1, 0, 0, 0, 0, 0], .source),  // jeq K with a source
            ([0x1d, 0x21, 1, 0, 1, 0, 0, 0], .immediate),  // jeq X with an immediate
            ([0x79, 0x21, 0, 0, 1, 0, 0, 0], .immediate),  // ldx with an immediate
            ([0x7b, 0x21, 0, 0, 1, 0, 0, 0], .immediate),  // stx with an immediate
            ([0x7a, 0x21, 0, 0, 1, 0, 0, 0], .source),  // st with a source
            ([0x30, 0x10, 0, 0, 1, 0, 0, 0], .source),  // ld_abs with a source
            ([0x30, 0x01, 0, 0, 1, 0, 0, 0], .destination),  // ld_abs with a destination
            ([0x50, 0x10, 1, 0, 0, 0, 0, 0], .offset),  // ld_ind with an offset
            ([0x18, 0x01, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], .offset),  // lddw with an offset
        ]
        for (bytes, field) in cases {
            #expect(throws: InstructionDecodingError.invalidInstruction(.reservedFieldNotZero(field), index: 0, byteOffset: 0)) {
                try decode(bytes)
            }
        }
    }

    @Test("variants selected by offset, immediate or source")
    func unsupportedVariants() {
        let cases: [([UInt8], InstructionProblem)] = [
            ([0x3f, 0x10, 2, 0, 0, 0, 0, 0], .unsupportedOffset(2)),  // sdiv with offset 2
            ([0x97, 0x00, 2, 0, 1, 0, 0, 0], .unsupportedOffset(2)),  // smod K with offset 2
            ([0xbf, 0x10, 7, 0, 0, 0, 0, 0], .unsupportedOffset(7)),  // movsx from 7 bits
            ([0xbc, 0x10, 32, 0, 0, 0, 0, 0], .unsupportedOffset(32)),  // 32-bit movsx from 32 bits
            ([0xbc, 0x10, 1, 0, 0, 0, 0, 0], .unsupportedOffset(1)),  // addr_space_cast is 64-bit only
            ([0xd4, 0x01, 0, 0, 8, 0, 0, 0], .unsupportedImmediate(8)),  // le8
            ([0xd7, 0x01, 0, 0, 0, 0, 0, 0], .unsupportedImmediate(0)),  // bswap0
            ([0xdb, 0x21, 0, 0, 0x02, 0, 0, 0], .unsupportedImmediate(2)),  // atomic op 2
            ([0xcb, 0x21, 0, 0, 0x01, 0, 0, 0], .unsupportedImmediate(1)),  // fetch_add on 16 bits
            ([0x85, 0x30, 0, 0, 1, 0, 0, 0], .unsupportedSource(3)),  // call kind 3
            ([0x18, 0x71, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], .unsupportedSource(7)),  // lddw pseudo 7
        ]
        for (bytes, problem) in cases {
            #expect(throws: InstructionDecodingError.invalidInstruction(problem, index: 0, byteOffset: 0)) {
                try decode(bytes)
            }
        }
    }

    @Test("a kernel function call may carry a module index in its offset")
    func kernelFunctionOffset() throws {
        let instructions = try Instruction.decode([0x85, 0x20, 3, 0, 9, 0, 0, 0], byteOrder: .littleEndian)
        #expect(instructions == [.call(.kernelFunction(btfID: 9, moduleIndex: 3))])
    }

    @Test("the index counts lddw once, the byte offset counts its 16 bytes")
    func errorPosition() {
        let lddw: [UInt8] = [0x18, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        #expect(throws: InstructionDecodingError.invalidInstruction(.unknownOpCode(OpCode(rawValue: 0xff)), index: 2, byteOffset: 24)) {
            try decode(lddw + exit + [0xff, 0, 0, 0, 0, 0, 0, 0])
        }
    }

    @Test("random bytes decode or throw, and what decodes re-encodes to the same bytes")
    func randomBytes() throws {
        var generator = SplitMix64(state: 0x5eed_ebf0)
        var decodedCount = 0
        for iteration in 0..<20_000 {
            let length = Int.random(in: 0...6, using: &generator) * 8 + (iteration % 50 == 0 ? Int.random(in: 0...7, using: &generator) : 0)
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            // Bias towards plausible instructions so that decoding gets past the first slot.
            for start in stride(from: 0, to: bytes.count - 7, by: 8) where Bool.random(using: &generator) {
                bytes[start + 1] &= 0x99
                bytes[start + 2] = 0
                bytes[start + 3] = 0
            }
            for order in [ByteOrder.littleEndian, .bigEndian] {
                guard let instructions = try? Instruction.decode(bytes, byteOrder: order) else { continue }
                decodedCount += 1
                #expect(try instructions.encoded(byteOrder: order) == bytes)
                for instruction in instructions { _ = instruction.description }
                _ = instructions.listing()
            }
        }
        #expect(decodedCount > 1000)
    }

    @Test("every single 8-byte instruction with every opcode decodes or throws")
    func everyOpCode() throws {
        var generator = SplitMix64(state: 42)
        for raw in 0...255 {
            for _ in 0..<200 {
                var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
                bytes[0] = UInt8(raw)
                if Bool.random(using: &generator) { bytes[8...11] = [0, 0, 0, 0] }
                for order in [ByteOrder.littleEndian, .bigEndian] {
                    if let decoded = try? Instruction.decode(bytes, byteOrder: order) {
                        #expect(try decoded.encoded(byteOrder: order) == bytes)
                        #expect(decoded.allSatisfy { $0.isValid })
                        #expect(!decoded.map(\.description).contains("<unknown>"))
                    }
                }
            }
        }
    }

    /// Decoding checks the common instructions with a shortcut before asking ``Instruction/problem``;
    /// the shortcut must never accept what `problem` refuses. Every opcode with register, offset and
    /// immediate values at and around each rule's edges, in both byte orders.
    @Test("decoding accepts exactly the instructions problem accepts")
    func decodingAgreesWithProblem() throws {
        let registers: [UInt8] = [0, 1, 10, 11, 15]
        let offsets: [Int16] = [0, 1, -1, 8, 16, 32]
        let immediates: [Int32] = [0, 1, -1, 16, 0xe1]
        var accepted = 0
        for raw in 0...255 {
            for destination in registers {
                for source in registers {
                    for offset in offsets {
                        for immediate in immediates {
                            let instruction = Instruction(
                                opCode: OpCode(rawValue: UInt8(raw)), destination: Register(rawValue: destination),
                                source: Register(rawValue: source), offset: offset, constant: Int64(immediate))
                            for order in [ByteOrder.littleEndian, .bigEndian] {
                                let bytes = try [instruction].encoded(byteOrder: order)
                                let decoded = try? Instruction.decode(bytes, byteOrder: order)
                                #expect((decoded != nil) == (instruction.problem == nil), "\(instruction) \(order)")
                                if let decoded {
                                    #expect(decoded == [instruction])
                                    accepted += 1
                                }
                            }
                        }
                    }
                }
            }
        }
        #expect(accepted > 10_000)
    }

    /// The array encoder writes whole slots in one pass; it must give the bytes, and the errors,
    /// of encoding each instruction on its own.
    @Test("an array encodes as its instructions one by one")
    func arrayEncodingMatchesInstructions() {
        var generator = SplitMix64(state: 7)
        for _ in 0..<2_000 {
            let count = Int.random(in: 0...6, using: &generator)
            let instructions = (0..<count).map { _ in
                let wide = Bool.random(using: &generator)
                return Instruction(
                    opCode: wide ? .loadImmediate64 : OpCode(rawValue: UInt8.random(in: 0...255, using: &generator)),
                    destination: Register(rawValue: UInt8.random(in: 0...17, using: &generator)),
                    source: Register(rawValue: UInt8.random(in: 0...17, using: &generator)),
                    offset: Int16.random(in: .min ... .max, using: &generator),
                    constant: Bool.random(using: &generator)
                        ? Int64(Int32.random(in: .min ... .max, using: &generator))
                        : Int64.random(in: .min ... .max, using: &generator))
            }
            for order in [ByteOrder.littleEndian, .bigEndian] {
                var expected: Result<[UInt8], InstructionEncodingError> = .success([])
                var bytes: [UInt8] = []
                for (index, instruction) in instructions.enumerated() {
                    do {
                        try instruction.encode(into: &bytes, byteOrder: order, index: index)
                    } catch {
                        expected = .failure(error)
                        break
                    }
                }
                if case .success = expected { expected = .success(bytes) }
                let actual = Result { () throws(InstructionEncodingError) -> [UInt8] in try instructions.encoded(byteOrder: order) }
                #expect(actual == expected)
            }
        }
    }
}
