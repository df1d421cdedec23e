// Decoding bytes through a BTF type: map keys and values, global variables. The shapes follow
// what bpftool prints for `map dump` with BTF: integers as numbers, char arrays as strings,
// structs and unions as objects, enums by enumerator name.

/// A value read from bytes through its BTF type.
public indirect enum BTFValue: Sendable, Hashable {
    case signed(Int64)
    case unsigned(UInt64)
    case bool(Bool)
    case float(Double)
    /// A `char` array, up to its first NUL.
    case string(String)
    /// An enumerator's name, or its number when no enumerator has the value.
    case enumerator(name: String?, value: Int64)
    /// A pointer's address (meaningless outside the kernel, but what the bytes hold).
    case pointer(UInt64)
    case array([BTFValue])
    /// A struct, union or data section: its members in order; anonymous members have empty names.
    case members([BTFNamedValue])
    /// Bytes of a type that has no structured reading (a 128-bit integer, a forward declaration).
    case bytes([UInt8])

    /// The value as JSON text, in bpftool's shapes (`128-bit integers and bytes as hexadecimal strings`).
    public var json: String {
        switch self {
        case .signed(let value): String(value)
        case .unsigned(let value): String(value)
        case .bool(let value): value ? "true" : "false"
        case .float(let value): value.isFinite ? "\(value)" : "\"\(value)\""
        case .string(let value): Self.quoted(value)
        case .enumerator(let name, let value): name.map(Self.quoted) ?? String(value)
        case .pointer(let value): String(value)
        case .array(let elements): "[" + elements.map(\.json).joined(separator: ",") + "]"
        case .members(let members):
            "{" + members.map { Self.quoted($0.name) + ":" + $0.value.json }.joined(separator: ",") + "}"
        case .bytes(let bytes): Self.quoted("0x" + bytes.map { Self.hexByte($0) }.joined())
        }
    }

    static func hexByte(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }

    /// A JSON string literal with control characters escaped.
    public static func quoted(_ value: String) -> String {
        var result = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7f:
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}

/// A member of a ``BTFValue/members(_:)`` value.
public struct BTFNamedValue: Sendable, Hashable {
    public var name: String
    public var value: BTFValue
    public init(name: String, value: BTFValue) {
        self.name = name
        self.value = value
    }
}

extension BTFSpec {
    /// Reads `bytes` as a value of type `id`, in the spec's byte order.
    /// - Throws: ``BTFError/invalidType(id:offset:reason:)`` when the bytes are too short for the
    ///   type, or a decoding error of the type graph.
    public func value(of id: BTFTypeID, in bytes: [UInt8]) throws(BTFError) -> BTFValue {
        var depth = 0
        return try decodeValue(id, bytes[...], bitOffset: 0, bitSize: 0, depth: &depth)
    }

    private func decodeValue(
        _ id: BTFTypeID, _ bytes: ArraySlice<UInt8>, bitOffset: UInt32, bitSize: UInt8, depth: inout Int
    ) throws(BTFError) -> BTFValue {
        depth += 1
        defer { depth -= 1 }
        // Types refer to each other without pointers only through a finite chain; a deeper one is
        // a cycle in hostile BTF.
        guard depth < 64 else { throw .referenceCycle(id: id, offset: 0) }
        func need(_ count: Int) throws(BTFError) {
            guard count <= bytes.count else {
                throw .invalidType(id: id, offset: 0, reason: "value needs \(count) bytes, \(bytes.count) available")
            }
        }
        switch try type(id) {
        case .void, .functionPrototype, .function, .declarationTag:
            return .bytes(Array(bytes))
        case .forward:
            return .bytes(Array(bytes))
        case .int(let int):
            if bitSize > 0 || int.bits % 8 != 0 || int.offset != 0 {
                let width = bitSize > 0 ? UInt32(bitSize) : UInt32(int.bits)
                return try bitfield(bytes, bitOffset: bitOffset + UInt32(int.offset), width: width, signed: int.encoding.contains(.signed), id: id)
            }
            let size = Int(int.size)
            try need(size)
            if int.encoding.contains(.bool) { return .bool(bytes.prefix(size).contains { $0 != 0 }) }
            guard size <= 8 else { return .bytes(Array(bytes.prefix(size))) }
            let raw = unsignedInteger(bytes.prefix(size))
            if int.encoding.contains(.signed) { return .signed(signExtend(raw, bits: size * 8)) }
            return .unsigned(raw)
        case .pointer:
            try need(8)
            return .pointer(unsignedInteger(bytes.prefix(8)))
        case .array(let array):
            let elementSize = try typeSize(array.elementType)
            if case .int(let element) = try type(try skipQualifiers(array.elementType)), element.size == 1,
                element.encoding.contains(.char) || element.name == "char"
            {
                let count = Int(array.count)
                try need(count)
                // A string only when it ends within the array and is printable, as bpftool
                // decides; other char arrays print as numbers.
                let text = bytes.prefix(count).prefix { $0 != 0 }
                if text.count < count, text.allSatisfy({ $0 >= 0x20 && $0 < 0x7f || $0 == 0x09 || $0 == 0x0a }) {
                    return .string(String(decoding: text, as: UTF8.self))
                }
            }
            // Hostile BTF can make count * size overflow; one check covers every element.
            let (total, overflow) = Int(array.count).multipliedReportingOverflow(by: elementSize)
            guard !overflow else { throw .invalidType(id: id, offset: 0, reason: "array too large") }
            try need(total)
            var elements: [BTFValue] = []
            for index in 0..<Int(array.count) {
                let start = bytes.startIndex + index * elementSize
                elements.append(
                    try decodeValue(array.elementType, bytes[start..<start + elementSize], bitOffset: 0, bitSize: 0, depth: &depth))
            }
            return .array(elements)
        case .struct(let composite), .union(let composite):
            try need(Int(composite.size))
            var members: [BTFNamedValue] = []
            for member in composite.members {
                let byteOffset = Int(member.bitOffset / 8)
                // The decoder does not bound member offsets by the struct's size.
                guard byteOffset <= bytes.count else {
                    throw .invalidType(
                        id: id, offset: 0,
                        reason: "member '\(member.name)' at byte \(byteOffset), \(bytes.count) bytes available")
                }
                let slice = bytes[(bytes.startIndex + byteOffset)...]
                let value = try decodeValue(
                    member.type, slice, bitOffset: member.bitfieldSize > 0 ? member.bitOffset % 8 : 0,
                    bitSize: member.bitfieldSize, depth: &depth)
                members.append(BTFNamedValue(name: member.name, value: value))
            }
            return .members(members)
        case .enum(let enumeration), .enum64(let enumeration):
            let size = Int(enumeration.size)
            try need(size)
            let raw = unsignedInteger(bytes.prefix(min(size, 8)))
            let value = enumeration.isSigned ? signExtend(raw, bits: min(size, 8) * 8) : Int64(bitPattern: raw)
            let mask: UInt64 = size >= 8 ? .max : (1 << UInt64(size * 8)) - 1
            let name = enumeration.values.first { $0.value & mask == raw }?.name
            return .enumerator(name: name, value: value)
        case .typedef(let typedef):
            return try decodeValue(typedef.type, bytes, bitOffset: bitOffset, bitSize: bitSize, depth: &depth)
        case .volatile(let qualifier), .const(let qualifier), .restrict(let qualifier):
            return try decodeValue(qualifier.type, bytes, bitOffset: bitOffset, bitSize: bitSize, depth: &depth)
        case .typeTag(let tag):
            return try decodeValue(tag.type, bytes, bitOffset: bitOffset, bitSize: bitSize, depth: &depth)
        case .variable(let variable):
            return try decodeValue(variable.type, bytes, bitOffset: 0, bitSize: 0, depth: &depth)
        case .dataSection(let section):
            var members: [BTFNamedValue] = []
            for entry in section.variables {
                let start = Int(entry.offset), end = start + Int(entry.size)
                try need(end)
                let name = try self.name(of: entry.type)
                let value = try decodeValue(
                    entry.type, bytes[(bytes.startIndex + start)..<(bytes.startIndex + end)], bitOffset: 0, bitSize: 0, depth: &depth)
                members.append(BTFNamedValue(name: name, value: value))
            }
            return .members(members)
        case .float(let float):
            try need(Int(float.size))
            switch float.size {
            case 4: return .float(Double(Float(bitPattern: UInt32(truncatingIfNeeded: unsignedInteger(bytes.prefix(4))))))
            case 8: return .float(Double(bitPattern: unsignedInteger(bytes.prefix(8))))
            default: return .bytes(Array(bytes.prefix(Int(float.size))))
            }
        }
    }

    private func skipQualifiers(_ id: BTFTypeID) throws(BTFError) -> BTFTypeID {
        var current = id
        for _ in 0..<32 {
            switch try type(current) {
            case .typedef(let typedef): current = typedef.type
            case .volatile(let qualifier), .const(let qualifier), .restrict(let qualifier): current = qualifier.type
            case .typeTag(let tag): current = tag.type
            default: return current
            }
        }
        throw .referenceCycle(id: id, offset: 0)
    }

    /// The size in bytes of a type that has one.
    func typeSize(_ id: BTFTypeID) throws(BTFError) -> Int {
        var current = id
        var multiplier = 1
        // An element count below 2^32 times a size below 2^32 can pass Int.max.
        func scaled(_ size: UInt32) throws(BTFError) -> Int {
            let (product, overflow) = multiplier.multipliedReportingOverflow(by: Int(size))
            guard !overflow else { throw .invalidType(id: id, offset: 0, reason: "array too large") }
            return product
        }
        for _ in 0..<64 {
            switch try type(current) {
            case .int(let int): return try scaled(int.size)
            case .float(let float): return try scaled(float.size)
            case .pointer: return try scaled(8)
            case .struct(let composite), .union(let composite): return try scaled(composite.size)
            case .enum(let enumeration), .enum64(let enumeration): return try scaled(enumeration.size)
            case .dataSection(let section): return try scaled(section.size)
            case .array(let array):
                let (product, overflow) = multiplier.multipliedReportingOverflow(by: Int(array.count))
                guard !overflow, product < 1 << 32 else { throw .invalidType(id: id, offset: 0, reason: "array too large") }
                multiplier = product
                current = array.elementType
            case .typedef(let typedef): current = typedef.type
            case .volatile(let qualifier), .const(let qualifier), .restrict(let qualifier): current = qualifier.type
            case .typeTag(let tag): current = tag.type
            case .variable(let variable): current = variable.type
            default: throw .invalidType(id: current, offset: 0, reason: "type has no size")
            }
        }
        throw .referenceCycle(id: id, offset: 0)
    }

    private func unsignedInteger(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var value: UInt64 = 0
        switch byteOrder {
        case .littleEndian:
            for byte in bytes.reversed() { value = value << 8 | UInt64(byte) }
        case .bigEndian:
            for byte in bytes { value = value << 8 | UInt64(byte) }
        }
        return value
    }

    private func bitfield(
        _ bytes: ArraySlice<UInt8>, bitOffset: UInt32, width: UInt32, signed: Bool, id: BTFTypeID
    ) throws(BTFError) -> BTFValue {
        guard width > 0, width <= 64, bitOffset + width <= 64 else {
            throw .invalidType(id: id, offset: 0, reason: "bitfield of \(width) bits at bit \(bitOffset)")
        }
        let byteCount = Int((bitOffset + width + 7) / 8)
        guard byteCount <= bytes.count else {
            throw .invalidType(id: id, offset: 0, reason: "bitfield needs \(byteCount) bytes, \(bytes.count) available")
        }
        let word = unsignedInteger(bytes.prefix(byteCount))
        let shift: UInt64 =
            switch byteOrder {
            case .littleEndian: UInt64(bitOffset)
            case .bigEndian: UInt64(UInt32(byteCount * 8) - bitOffset - width)
            }
        let mask: UInt64 = width == 64 ? .max : (1 << UInt64(width)) - 1
        let raw = (word >> shift) & mask
        return signed ? .signed(signExtend(raw, bits: Int(width))) : .unsigned(raw)
    }

    private func signExtend(_ raw: UInt64, bits: Int) -> Int64 {
        guard bits > 0, bits < 64 else { return Int64(bitPattern: raw) }
        let shift = UInt64(64 - bits)
        return Int64(bitPattern: raw << shift) >> Int64(shift)
    }
}
