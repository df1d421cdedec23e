import EBPFSys

/// Where a series of batch lookups stands: start with `MapBatchCursor()` and pass the same cursor
/// to each call until ``isAtEnd``.
public struct MapBatchCursor: Sendable {
    /// The kernel's token for the next batch (a bucket number for hash maps, a key for others);
    /// nil before the first batch.
    var token: [UInt8]?
    /// Whether the last batch reached the end of the map.
    public private(set) var isAtEnd = false

    public init() {}

    mutating func advance(to next: [UInt8]?) {
        if let next {
            token = next
        } else {
            isAtEnd = true
        }
    }
}

extension Map {
    // MARK: Raw batches

    /// Up to `maxCount` elements after `cursor`, as `count` keys and `count` values back to back
    /// (values of ``valueBufferSize`` bytes) (`BPF_MAP_LOOKUP_BATCH`; Linux 5.6). With `deleting`
    /// the elements are removed as they are copied (`BPF_MAP_LOOKUP_AND_DELETE_BATCH`).
    ///
    /// A hash map returns whole buckets: `maxCount` must be at least the longest bucket, or the
    /// kernel fails with `ENOSPC`.
    public func lookupBatch(
        cursor: inout MapBatchCursor, maxCount: Int, deleting: Bool = false, flags: MapUpdateFlags = .any
    ) throws(MapError) -> (keys: [UInt8], values: [UInt8], count: Int) {
        let operation: MapError.Operation = deleting ? .lookupAndDeleteBatch : .lookupBatch
        guard !cursor.isAtEnd else { return ([], [], 0) }
        let count = max(maxCount, 0)
        guard case (let keysLength, false) = Int(keySize).multipliedReportingOverflow(by: count),
            case (let valuesLength, false) = valueBufferSize.multipliedReportingOverflow(by: count),
            let count32 = UInt32(exactly: count)
        else {
            throw error(operation, .syscall(BPFSyscallError(command: .mapLookupBatch, errno: .argumentListTooLong)))
        }
        var keys = [UInt8](repeating: 0, count: keysLength)
        var values = [UInt8](repeating: 0, count: valuesLength)
        var outToken = [UInt8](repeating: 0, count: max(Int(keySize), 4))
        let token = cursor.token
        let result = try withRawDescriptor(operation) { (raw: UInt32) throws(MapError) -> (copied: Int, reachedEnd: Bool) in
            var attributes = MapBatchAttr()
            attributes.mapFD = raw
            attributes.count = count32
            attributes.elemFlags = flags.rawValue
            let outcome = keys.withUnsafeMutableBytes { keyBytes in
                values.withUnsafeMutableBytes { valueBytes in
                    outToken.withUnsafeMutableBytes { outBytes in
                        Map.withOptionalBytes(token) { inBytes in
                            attributes.keys = Sys.address(of: keyBytes.baseAddress)
                            attributes.values = Sys.address(of: valueBytes.baseAddress)
                            attributes.outBatch = Sys.address(of: outBytes.baseAddress)
                            attributes.inBatch = Sys.address(of: inBytes)
                            return Result { () throws(BPFSyscallError) in
                                if deleting {
                                    try Sys.mapLookupAndDeleteBatch(&attributes)
                                } else {
                                    try Sys.mapLookupBatch(&attributes)
                                }
                            }
                        }
                    }
                }
            }
            var reachedEnd = false
            do throws(BPFSyscallError) {
                try outcome.get()
            } catch where error.errno == .noSuchFileOrDirectory {
                reachedEnd = true
            } catch {
                throw self.error(operation, .syscall(error))
            }
            return (min(Int(attributes.count), count), reachedEnd)
        }
        keys.removeSubrange((result.copied * Int(keySize))...)
        values.removeSubrange((result.copied * valueBufferSize)...)
        cursor.advance(to: result.reachedEnd ? nil : outToken)
        return (keys, values, result.copied)
    }

    /// Stores `count` elements given as keys and values back to back (`BPF_MAP_UPDATE_BATCH`;
    /// Linux 5.6). Returns how many were stored.
    @discardableResult
    public func updateBatch(
        keyBytes keys: [UInt8], valueBytes values: [UInt8], count: Int, flags: MapUpdateFlags = .any
    ) throws(MapError) -> Int {
        let expectedKeys = Map.product(Int(keySize), count)
        guard keys.count == expectedKeys else {
            throw error(.updateBatch, .keySizeMismatch(given: keys.count, expected: expectedKeys))
        }
        let expectedValues = Map.product(valueBufferSize, count)
        guard values.count == expectedValues else {
            throw error(.updateBatch, .valueSizeMismatch(given: values.count, expected: expectedValues))
        }
        return try keys.withBytes { (keyBytes: UnsafeRawBufferPointer) throws(MapError) -> Int in
            try values.withBytes { (valueBytes: UnsafeRawBufferPointer) throws(MapError) -> Int in
                try batchCall(.updateBatch, keys: keyBytes.baseAddress, values: valueBytes.baseAddress, count: count, flags: flags)
            }
        }
    }

    /// Removes `count` keys given back to back (`BPF_MAP_DELETE_BATCH`; Linux 5.6). Returns how
    /// many were removed; a key that is absent fails the batch with `ENOENT` at that key.
    @discardableResult
    public func deleteBatch(keyBytes keys: [UInt8], count: Int) throws(MapError) -> Int {
        let expectedKeys = Map.product(Int(keySize), count)
        guard keys.count == expectedKeys else {
            throw error(.deleteBatch, .keySizeMismatch(given: keys.count, expected: expectedKeys))
        }
        return try keys.withBytes { (keyBytes: UnsafeRawBufferPointer) throws(MapError) -> Int in
            try batchCall(.deleteBatch, keys: keyBytes.baseAddress, values: nil, count: count, flags: .any)
        }
    }

    private func batchCall(
        _ operation: MapError.Operation, keys: UnsafeRawPointer?, values: UnsafeRawPointer?, count: Int,
        flags: MapUpdateFlags
    ) throws(MapError) -> Int {
        guard let count32 = UInt32(exactly: count) else {
            throw error(operation, .syscall(BPFSyscallError(command: .mapUpdateBatch, errno: .argumentListTooLong)))
        }
        return try withRawDescriptor(operation) { (raw: UInt32) throws(MapError) -> Int in
            var attributes = MapBatchAttr()
            attributes.mapFD = raw
            attributes.count = count32
            attributes.elemFlags = flags.rawValue
            attributes.keys = Sys.address(of: keys)
            attributes.values = Sys.address(of: values)
            do throws(BPFSyscallError) {
                if operation == .updateBatch {
                    try Sys.mapUpdateBatch(&attributes)
                } else {
                    try Sys.mapDeleteBatch(&attributes)
                }
            } catch {
                throw self.error(operation, .syscall(error))
            }
            return Int(attributes.count)
        }
    }

    // MARK: Typed batches

    /// Up to `maxCount` typed elements after `cursor` (see ``lookupBatch(cursor:maxCount:deleting:flags:)``).
    public func lookupBatch<Key: BitwiseCopyable, Value: BitwiseCopyable>(
        _ keyType: Key.Type = Key.self, _ valueType: Value.Type = Value.self,
        cursor: inout MapBatchCursor, maxCount: Int, deleting: Bool = false
    ) throws(MapError) -> (keys: [Key], values: [Value]) {
        let operation: MapError.Operation = deleting ? .lookupAndDeleteBatch : .lookupBatch
        try checkKeyType(Key.self, operation)
        try checkValueType(Value.self, operation)
        let batch = try lookupBatch(cursor: &cursor, maxCount: maxCount, deleting: deleting)
        return (
            Map.unpack(batch.keys, count: batch.count, stride: Int(keySize), as: Key.self),
            Map.unpack(batch.values, count: batch.count, stride: valueBufferSize, as: Value.self)
        )
    }

    /// Stores `values[i]` under `keys[i]` for every `i`; returns how many were stored.
    @discardableResult
    public func updateBatch<Key: BitwiseCopyable, Value: BitwiseCopyable>(
        keys: [Key], values: [Value], flags: MapUpdateFlags = .any
    ) throws(MapError) -> Int {
        try checkKeyType(Key.self, .updateBatch)
        try checkValueType(Value.self, .updateBatch)
        guard keys.count == values.count else {
            throw error(.updateBatch, .batchCountMismatch(keys: keys.count, values: values.count))
        }
        return try updateBatch(
            keyBytes: Map.pack(keys, stride: Int(keySize)), valueBytes: Map.pack(values, stride: Int(valueSize)),
            count: keys.count, flags: flags)
    }

    /// Removes `keys`; returns how many were removed.
    @discardableResult
    public func deleteBatch<Key: BitwiseCopyable>(keys: [Key]) throws(MapError) -> Int {
        try checkKeyType(Key.self, .deleteBatch)
        return try deleteBatch(keyBytes: Map.pack(keys, stride: Int(keySize)), count: keys.count)
    }

    // MARK: Helpers

    /// `size * count` for a byte count, -1 (which no buffer has) when it is negative or overflows.
    static func product(_ size: Int, _ count: Int) -> Int {
        guard count >= 0, case (let value, false) = size.multipliedReportingOverflow(by: count) else { return -1 }
        return value
    }

    static func pack<Element: BitwiseCopyable>(_ elements: [Element], stride: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: elements.count * stride)
        bytes.withUnsafeMutableBytes { buffer in
            for (index, element) in elements.enumerated() {
                buffer.storeBytes(of: element, toByteOffset: index * stride, as: Element.self)
            }
        }
        return bytes
    }

    static func unpack<Element: BitwiseCopyable>(_ bytes: [UInt8], count: Int, stride: Int, as type: Element.Type) -> [Element] {
        bytes.withUnsafeBytes { buffer in
            (0..<count).compactMap { index in
                let offset = index * stride
                guard offset + MemoryLayout<Element>.size <= buffer.count else { return nil }
                return buffer.loadUnaligned(fromByteOffset: offset, as: Element.self)
            }
        }
    }

    static func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawPointer?) -> R) -> R {
        guard let bytes else { return body(nil) }
        return bytes.withUnsafeBytes { body($0.baseAddress) }
    }
}
