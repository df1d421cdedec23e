/// The byte order of encoded instructions: that of the ELF file they come from, or of the host
/// when loading into the kernel.
public enum ByteOrder: Sendable, Hashable {
    case littleEndian
    case bigEndian

    /// The byte order of the machine this code runs on.
    public static var host: ByteOrder {
        UInt16(1).littleEndian == 1 ? .littleEndian : .bigEndian
    }
}

/// Why an instruction cannot be encoded.
public enum InstructionEncodingError: Error, Hashable, Sendable {
    /// A register field does not fit in four bits.
    case registerOutOfRange(Register, index: Int)
    /// The constant of an 8-byte instruction does not fit in the signed 32-bit immediate.
    case constantOutOfRange(Int64, index: Int)
}

extension InstructionEncodingError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .registerOutOfRange(let register, let index):
            "instruction \(index): register number \(register.rawValue) does not fit in 4 bits"
        case .constantOutOfRange(let constant, let index):
            "instruction \(index): constant \(constant) does not fit in a 32-bit immediate"
        }
    }
}

// MARK: - Encoding

extension Instruction {
    /// The encoded bytes: 8, or 16 for `lddw`. Metadata is not encoded.
    public func encode(byteOrder: ByteOrder) throws(InstructionEncodingError) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(byteCount)
        try encode(into: &bytes, byteOrder: byteOrder, index: 0)
        return bytes
    }

    /// Appends the encoded bytes; `index` only names the instruction in an error.
    public func encode(into bytes: inout [UInt8], byteOrder: ByteOrder, index: Int = 0) throws(InstructionEncodingError) {
        guard destination.rawValue <= 0x0f else { throw .registerOutOfRange(destination, index: index) }
        guard source.rawValue <= 0x0f else { throw .registerOutOfRange(source, index: index) }
        let low: UInt32
        let high: UInt32
        if isWide {
            let value = UInt64(bitPattern: constant)
            low = UInt32(truncatingIfNeeded: value)
            high = UInt32(truncatingIfNeeded: value >> 32)
        } else {
            guard let narrow = Int32(exactly: constant) else { throw .constantOutOfRange(constant, index: index) }
            low = UInt32(bitPattern: narrow)
            high = 0
        }
        let registers: UInt8
        switch byteOrder {
        case .littleEndian: registers = destination.rawValue | source.rawValue << 4
        case .bigEndian: registers = destination.rawValue << 4 | source.rawValue
        }
        // Each 8-byte slot is put together in a word and appended at once: appending byte by
        // byte costs a capacity check per byte, and loaders encode every instruction they load.
        var slot: UInt64 = 0
        withUnsafeMutableBytes(of: &slot) { raw in
            raw[0] = opCode.rawValue
            raw[1] = registers
            raw.storeBytes(of: Self.ordered(UInt16(bitPattern: offset), byteOrder), toByteOffset: 2, as: UInt16.self)
            raw.storeBytes(of: Self.ordered(low, byteOrder), toByteOffset: 4, as: UInt32.self)
        }
        withUnsafeBytes(of: slot) { bytes.append(contentsOf: $0) }
        if isWide {
            // The second slot of a `lddw`: zero opcode, registers and offset, then the upper half.
            var second: UInt64 = 0
            withUnsafeMutableBytes(of: &second) { raw in
                raw.storeBytes(of: Self.ordered(high, byteOrder), toByteOffset: 4, as: UInt32.self)
            }
            withUnsafeBytes(of: second) { bytes.append(contentsOf: $0) }
        }
    }

    private static func ordered<Value: FixedWidthInteger>(_ value: Value, _ byteOrder: ByteOrder) -> Value {
        byteOrder == .littleEndian ? value.littleEndian : value.bigEndian
    }
}

extension Sequence where Element == Instruction {
    /// The encoding of all instructions, one after the other.
    ///
    /// Inlinable so that it is specialised for the caller's sequence (see ``RawOffsetMap``).
    @inlinable
    public func encoded(byteOrder: ByteOrder) throws(InstructionEncodingError) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(underestimatedCount * Instruction.slotSize)
        var index = 0
        for instruction in self {
            try instruction.encode(into: &bytes, byteOrder: byteOrder, index: index)
            index += 1
        }
        return bytes
    }
}

extension Array where Element == Instruction {
    /// The encoding of all instructions, one after the other: what the `Sequence` method gives,
    /// written in one pass into storage sized once (loaders encode every program they load).
    public func encoded(byteOrder: ByteOrder) throws(InstructionEncodingError) -> [UInt8] {
        var failure: InstructionEncodingError?
        let bytes = withUnsafeBufferPointer { instructions -> [UInt8] in
            var slots = 0
            for index in instructions.indices { slots &+= instructions[index].slotCount }
            return [UInt8](unsafeUninitializedCapacity: slots &* Instruction.slotSize) { buffer, initializedCount in
                guard let base = UnsafeMutableRawPointer(buffer.baseAddress) else {
                    initializedCount = 0
                    return
                }
                let isLittleEndian = byteOrder == .littleEndian
                var byteOffset = 0
                for index in instructions.indices {
                    let instruction = instructions[index]
                    let destination = instruction.destination.rawValue
                    let source = instruction.source.rawValue
                    guard destination <= 0x0f else {
                        failure = .registerOutOfRange(instruction.destination, index: index)
                        break
                    }
                    guard source <= 0x0f else {
                        failure = .registerOutOfRange(instruction.source, index: index)
                        break
                    }
                    let isWide = instruction.isWide
                    let value = UInt64(bitPattern: instruction.constant)
                    if !isWide {
                        guard Int32(exactly: instruction.constant) != nil else {
                            failure = .constantOutOfRange(instruction.constant, index: index)
                            break
                        }
                    }
                    let registers = isLittleEndian ? destination | source << 4 : destination << 4 | source
                    let offset = UInt16(bitPattern: instruction.offset)
                    let low = UInt32(truncatingIfNeeded: value)
                    // The slot as a number whose little-endian bytes are opcode, registers, offset
                    // and immediate; fields of a big-endian object are swapped within it.
                    var first = UInt64(instruction.opCode.rawValue) | UInt64(registers) << 8
                    if isLittleEndian {
                        first |= UInt64(offset) << 16 | UInt64(low) << 32
                    } else {
                        first |= UInt64(offset.byteSwapped) << 16 | UInt64(low.byteSwapped) << 32
                    }
                    base.storeBytes(of: first.littleEndian, toByteOffset: byteOffset, as: UInt64.self)
                    byteOffset &+= Instruction.slotSize
                    if isWide {
                        let high = UInt32(truncatingIfNeeded: value >> 32)
                        let second = UInt64(isLittleEndian ? high : high.byteSwapped) << 32
                        base.storeBytes(of: second.littleEndian, toByteOffset: byteOffset, as: UInt64.self)
                        byteOffset &+= Instruction.slotSize
                    }
                }
                initializedCount = byteOffset
            }
        }
        if let failure { throw failure }
        return bytes
    }
}

// MARK: - Decoding

/// Why a byte string is not a valid sequence of instructions. Every case names the instruction by
/// its index (a `lddw` counts once) and the byte offset of its first byte.
public enum InstructionDecodingError: Error, Hashable, Sendable {
    /// The length is not a multiple of 8.
    case lengthNotMultipleOfSlotSize(length: Int)
    /// The last 8 bytes are the first half of a `lddw`.
    case truncatedWideInstruction(index: Int, byteOffset: Int)
    /// The second half of a `lddw` has a non-zero opcode, register or offset field.
    case malformedWideInstruction(index: Int, byteOffset: Int)
    /// The instruction is not one the instruction set defines.
    case invalidInstruction(InstructionProblem, index: Int, byteOffset: Int)
}

extension InstructionDecodingError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .lengthNotMultipleOfSlotSize(let length):
            "instructions: length \(length) is not a multiple of 8"
        case .truncatedWideInstruction(let index, let byteOffset):
            "instruction \(index) at byte \(byteOffset): lddw is missing its second half"
        case .malformedWideInstruction(let index, let byteOffset):
            "instruction \(index) at byte \(byteOffset): second half of lddw has non-zero opcode, registers or offset"
        case .invalidInstruction(let problem, let index, let byteOffset):
            "instruction \(index) at byte \(byteOffset): \(problem)"
        }
    }
}

extension Instruction {
    /// Decodes a whole sequence of instructions, validating each one (see ``problem``).
    public static func decode(
        _ bytes: UnsafeRawBufferPointer,
        byteOrder: ByteOrder
    ) throws(InstructionDecodingError) -> [Instruction] {
        guard bytes.count % slotSize == 0 else { throw .lengthNotMultipleOfSlotSize(length: bytes.count) }
        let slots = bytes.count / slotSize
        guard slots > 0, let base = bytes.baseAddress else { return [] }
        var failure: InstructionDecodingError?
        // Written in place into uninitialised storage: appending checks capacity and uniqueness for
        // every instruction, and object readers decode every instruction of every program.
        let instructions = [Instruction](unsafeUninitializedCapacity: slots) { buffer, initializedCount in
            let isLittleEndian = byteOrder == .littleEndian
            var byteOffset = 0
            var count = 0
            while byteOffset < slots &* slotSize {
                // The slot as a number whose little-endian bytes are the slot's bytes.
                let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: byteOffset, as: UInt64.self))
                let opCode = UInt8(truncatingIfNeeded: word)
                let registers = UInt8(truncatingIfNeeded: word >> 8)
                let rawOffset = UInt16(truncatingIfNeeded: word >> 16)
                let rawLow = UInt32(truncatingIfNeeded: word >> 32)
                let destination = isLittleEndian ? registers & 0x0f : registers >> 4
                let source = isLittleEndian ? registers >> 4 : registers & 0x0f
                let offset = Int16(bitPattern: isLittleEndian ? rawOffset : rawOffset.byteSwapped)
                let low = isLittleEndian ? rawLow : rawLow.byteSwapped
                var instruction = Instruction(
                    opCode: OpCode(rawValue: opCode), destination: Register(rawValue: destination),
                    source: Register(rawValue: source), offset: offset)
                if opCode == OpCode.loadImmediate64.rawValue {
                    let second = byteOffset &+ slotSize
                    guard second < bytes.count else {
                        failure = .truncatedWideInstruction(index: count, byteOffset: byteOffset)
                        break
                    }
                    let secondWord = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: second, as: UInt64.self))
                    // Opcode, registers and offset of the second half: its first four bytes.
                    guard UInt32(truncatingIfNeeded: secondWord) == 0 else {
                        failure = .malformedWideInstruction(index: count, byteOffset: byteOffset)
                        break
                    }
                    let rawHigh = UInt32(truncatingIfNeeded: secondWord >> 32)
                    let high = isLittleEndian ? rawHigh : rawHigh.byteSwapped
                    instruction.constant = Int64(bitPattern: UInt64(high) << 32 | UInt64(low))
                } else {
                    instruction.constant = Int64(Int32(bitPattern: low))
                }
                if !isPlainlyValid(
                    opCode: opCode, destination: destination, source: source, offset: offset,
                    immediate: Int32(bitPattern: low)), let problem = instruction.problem
                {
                    failure = .invalidInstruction(problem, index: count, byteOffset: byteOffset)
                    break
                }
                (buffer.baseAddress.unsafelyUnwrapped + count).initialize(to: instruction)
                count &+= 1
                byteOffset &+= opCode == OpCode.loadImmediate64.rawValue ? 2 &* slotSize : slotSize
            }
            initializedCount = count
        }
        if let failure { throw failure }
        return instructions
    }

    /// Whether the fields of one 8-byte instruction (not `lddw`) form one of the common
    /// instructions that ``problem`` accepts: register and immediate arithmetic, loads and stores
    /// through registers, comparisons, `ja`, helper calls and `exit`. A false answer means "ask
    /// ``problem``", which has the final word; a test checks that this never accepts what
    /// ``problem`` refuses.
    @inline(__always)
    static func isPlainlyValid(opCode: UInt8, destination: UInt8, source: UInt8, offset: Int16, immediate: Int32) -> Bool {
        let highestRegister = Register.r10.rawValue
        guard destination <= highestRegister else { return false }
        let operation = opCode & 0xf0
        let usesRegister = opCode & 0x08 != 0
        switch opCode & 0x07 {
        case InstructionClass.alu.rawValue, InstructionClass.alu64.rawValue:
            // add sub mul or and lsh rsh xor mov arsh, with a zero offset.
            guard offset == 0, operation <= 0xc0, operation != 0x30, operation != 0x80, operation != 0x90 else {
                return false
            }
            return usesRegister ? source <= highestRegister && immediate == 0 : source == 0
        case InstructionClass.jmp.rawValue, InstructionClass.jmp32.rawValue:
            // The comparisons: jeq to jsle, leaving out ja (0x00), call (0x80) and exit (0x90).
            if operation != 0, operation != 0x80, operation != 0x90, operation <= 0xd0 {
                return usesRegister ? source <= highestRegister && immediate == 0 : source == 0
            }
            switch opCode {
            case OpCode.jump.rawValue: return destination == 0 && source == 0 && immediate == 0
            case OpCode.call.rawValue: return destination == 0 && source == 0 && offset == 0
            case OpCode.exit.rawValue: return destination == 0 && source == 0 && offset == 0 && immediate == 0
            default: return false
            }
        case InstructionClass.ldx.rawValue, InstructionClass.stx.rawValue:
            return opCode & 0xe0 == AddressingMode.memory.rawValue && source <= highestRegister && immediate == 0
        case InstructionClass.st.rawValue:
            return opCode & 0xe0 == AddressingMode.memory.rawValue && source == 0
        default:
            return false
        }
    }

    /// Decodes a whole sequence of instructions, validating each one (see ``problem``).
    public static func decode(
        _ bytes: some Collection<UInt8>,
        byteOrder: ByteOrder
    ) throws(InstructionDecodingError) -> [Instruction] {
        let result: Result<[Instruction], InstructionDecodingError>? = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(InstructionDecodingError) -> [Instruction] in
                try decode(UnsafeRawBufferPointer(buffer), byteOrder: byteOrder)
            }
        }
        if let result { return try result.get() }
        let copy = Array(bytes)
        let copied = copy.withUnsafeBytes { buffer in
            Result { () throws(InstructionDecodingError) -> [Instruction] in
                try decode(buffer, byteOrder: byteOrder)
            }
        }
        return try copied.get()
    }
}
