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
        var instructions: [Instruction] = []
        instructions.reserveCapacity(bytes.count / slotSize)
        var byteOffset = 0
        while byteOffset < bytes.count {
            let index = instructions.count
            let opCode = OpCode(rawValue: bytes[byteOffset])
            let registers = bytes[byteOffset + 1]
            let destination: Register
            let source: Register
            switch byteOrder {
            case .littleEndian:
                destination = Register(rawValue: registers & 0x0f)
                source = Register(rawValue: registers >> 4)
            case .bigEndian:
                destination = Register(rawValue: registers >> 4)
                source = Register(rawValue: registers & 0x0f)
            }
            let offset = Int16(bitPattern: read(UInt16.self, bytes, at: byteOffset + 2, byteOrder))
            let low = read(UInt32.self, bytes, at: byteOffset + 4, byteOrder)
            var instruction = Instruction(opCode: opCode, destination: destination, source: source, offset: offset)
            if opCode == .loadImmediate64 {
                let second = byteOffset + slotSize
                guard second < bytes.count else { throw .truncatedWideInstruction(index: index, byteOffset: byteOffset) }
                guard bytes[second] == 0, bytes[second + 1] == 0, bytes[second + 2] == 0, bytes[second + 3] == 0 else {
                    throw .malformedWideInstruction(index: index, byteOffset: byteOffset)
                }
                let high = read(UInt32.self, bytes, at: second + 4, byteOrder)
                instruction.constant = Int64(bitPattern: UInt64(high) << 32 | UInt64(low))
            } else {
                instruction.constant = Int64(Int32(bitPattern: low))
            }
            if let problem = instruction.problem {
                throw .invalidInstruction(problem, index: index, byteOffset: byteOffset)
            }
            instructions.append(instruction)
            byteOffset += instruction.byteCount
        }
        return instructions
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

    /// Callers check that `position + size` is within `bytes`.
    private static func read<Value: FixedWidthInteger>(
        _: Value.Type,
        _ bytes: UnsafeRawBufferPointer,
        at position: Int,
        _ byteOrder: ByteOrder
    ) -> Value {
        let raw = bytes.loadUnaligned(fromByteOffset: position, as: Value.self)
        return byteOrder == .littleEndian ? Value(littleEndian: raw) : Value(bigEndian: raw)
    }
}
