import EBPFASM

extension CollectionSpec {
    /// The current bytes of a variable, from its data-section map's contents.
    public func value(ofVariable name: String) throws(VariableError) -> [UInt8] {
        let (variable, _, _, bytes) = try locate(name)
        let start = Int(variable.offset)
        return Array(bytes[start..<(start + Int(variable.size))])
    }

    /// The current value of an integer variable, decoded in the spec's byte order.
    public func value<Value: FixedWidthInteger>(ofVariable name: String, as _: Value.Type = Value.self) throws(VariableError) -> Value {
        let bytes = try value(ofVariable: name)
        guard bytes.count == MemoryLayout<Value>.size else {
            throw .sizeMismatch(variable: name, size: UInt32(bytes.count), given: MemoryLayout<Value>.size)
        }
        var result: Value = 0
        for byte in byteOrder == .littleEndian ? bytes.reversed() : bytes {
            result = result << 8 | Value(byte)
        }
        return result
    }

    /// Replaces a variable's bytes in its map's contents. `bytes` must have the variable's size.
    ///
    /// Works for read-only (`.rodata`) variables too: they are constant for programs, and this is
    /// how a value is given to them before loading.
    public mutating func setVariable(_ name: String, to bytes: [UInt8]) throws(VariableError) {
        let (variable, mapName, entryIndex, current) = try locate(name)
        guard bytes.count == Int(variable.size) else {
            throw .sizeMismatch(variable: name, size: variable.size, given: bytes.count)
        }
        var updated = current
        let start = Int(variable.offset)
        updated.replaceSubrange(start..<(start + bytes.count), with: bytes)
        maps[mapName]?.contents[entryIndex].value = .bytes(updated)
    }

    /// Sets an integer variable, encoding `value` in the spec's byte order.
    public mutating func setVariable<Value: FixedWidthInteger>(_ name: String, to value: Value) throws(VariableError) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(MemoryLayout<Value>.size)
        for index in 0..<MemoryLayout<Value>.size {
            bytes.append(UInt8(truncatingIfNeeded: value >> (index * 8)))
        }
        if byteOrder == .bigEndian { bytes.reverse() }
        try setVariable(name, to: bytes)
    }

    private func locate(_ name: String) throws(VariableError) -> (VariableSpec, String, Int, [UInt8]) {
        guard let variable = variables[name] else { throw .unknownVariable(name) }
        guard let map = maps[variable.mapName],
            let entryIndex = map.contents.firstIndex(where: { $0.key.allSatisfy { $0 == 0 } }),
            case .bytes(let bytes) = map.contents[entryIndex].value
        else {
            throw .missingMapContents(variable: name, map: variable.mapName)
        }
        let (end, overflow) = UInt64(variable.offset).addingReportingOverflow(UInt64(variable.size))
        guard !overflow, end <= UInt64(bytes.count) else {
            throw .outOfBounds(
                variable: name, map: variable.mapName, offset: variable.offset, size: variable.size, valueSize: bytes.count)
        }
        return (variable, variable.mapName, entryIndex, bytes)
    }
}
