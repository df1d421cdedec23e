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
        let (keysLength, valuesLength) = try batchBufferLengths(
            count: count, keyStride: Int(keySize), valueStride: valueBufferSize, operation)
        var keys = [UInt8](repeating: 0, count: keysLength)
        var values = [UInt8](repeating: 0, count: valuesLength)
        let copied = try keys.withMutableBytes { (keyBytes: UnsafeMutableRawBufferPointer) throws(MapError) -> Int in
            try values.withMutableBytes { (valueBytes: UnsafeMutableRawBufferPointer) throws(MapError) -> Int in
                try lookupBatch(
                    into: keyBytes.baseAddress, values: valueBytes.baseAddress, capacity: count, cursor: &cursor,
                    deleting: deleting, flags: flags)
            }
        }
        keys.removeSubrange((copied * Int(keySize))...)
        values.removeSubrange((copied * valueBufferSize)...)
        return (keys, values, copied)
    }

    /// The byte lengths of key and value buffers for `count` elements of the given strides.
    /// - Throws: `E2BIG` when they do not fit in memory's address range or the count in the
    ///   kernel's 32-bit field.
    @usableFromInline
    func batchBufferLengths(
        count: Int, keyStride: Int, valueStride: Int, _ operation: MapError.Operation
    ) throws(MapError) -> (keys: Int, values: Int) {
        guard count >= 0, UInt32(exactly: count) != nil,
            case (let keysLength, false) = keyStride.multipliedReportingOverflow(by: count),
            case (let valuesLength, false) = valueStride.multipliedReportingOverflow(by: count)
        else {
            throw error(operation, .syscall(BPFSyscallError(command: .mapLookupBatch, errno: .argumentListTooLong)))
        }
        return (keysLength, valuesLength)
    }

    /// One `BPF_MAP_LOOKUP_BATCH` (or `..._AND_DELETE_BATCH`) into the caller's buffers, which
    /// hold `capacity` keys of ``keySize`` bytes and `capacity` values of ``valueBufferSize``
    /// bytes. Returns how many elements the kernel copied and moves `cursor` on.
    @usableFromInline
    func lookupBatch(
        into keys: UnsafeMutableRawPointer?, values: UnsafeMutableRawPointer?, capacity: Int,
        cursor: inout MapBatchCursor, deleting: Bool, flags: MapUpdateFlags
    ) throws(MapError) -> Int {
        let operation: MapError.Operation = deleting ? .lookupAndDeleteBatch : .lookupBatch
        guard !cursor.isAtEnd else { return 0 }
        guard let count32 = UInt32(exactly: max(capacity, 0)) else {
            throw error(operation, .syscall(BPFSyscallError(command: .mapLookupBatch, errno: .argumentListTooLong)))
        }
        // Hash maps use a 4-byte bucket number as the token, other maps a key. Tokens of up to
        // 8 bytes stay on the stack; only larger keys take an array.
        var smallToken: UInt64 = 0
        var largeToken: [UInt8] = []
        let tokenSize = max(Int(keySize), 4)
        if tokenSize > MemoryLayout<UInt64>.size {
            largeToken = [UInt8](repeating: 0, count: tokenSize)
        }
        let token = cursor.token
        let result = try withRawDescriptor(operation) { (raw: UInt32) throws(MapError) -> (copied: Int, reachedEnd: Bool) in
            var attributes = MapBatchAttr()
            attributes.mapFD = raw
            attributes.count = count32
            attributes.elemFlags = flags.rawValue
            attributes.keys = Sys.address(of: keys)
            attributes.values = Sys.address(of: values)
            let outcome = Map.withTokenBuffer(&smallToken, &largeToken, large: tokenSize > 8) { outBytes in
                Map.withOptionalBytes(token) { inBytes in
                    attributes.outBatch = Sys.address(of: outBytes)
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
            var reachedEnd = false
            do throws(BPFSyscallError) {
                try outcome.get()
            } catch where error.errno == .noSuchFileOrDirectory {
                reachedEnd = true
            } catch {
                throw self.error(operation, .syscall(error))
            }
            return (min(Int(attributes.count), max(capacity, 0)), reachedEnd)
        }
        if result.reachedEnd {
            cursor.advance(to: nil)
        } else if tokenSize > 8 {
            cursor.advance(to: largeToken)
        } else {
            cursor.advance(to: withUnsafeBytes(of: smallToken) { Array($0.prefix(tokenSize)) })
        }
        return result.copied
    }

    /// Runs `body` with the token output buffer: `small` when the token fits in it, else `large`.
    private static func withTokenBuffer<R>(
        _ small: inout UInt64, _ large: inout [UInt8], large isLarge: Bool, _ body: (UnsafeMutableRawPointer?) -> R
    ) -> R {
        if isLarge {
            return large.withUnsafeMutableBytes { body($0.baseAddress) }
        }
        return withUnsafeMutableBytes(of: &small) { body($0.baseAddress) }
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
    ///
    /// Inlinable, so that it is specialised for the caller's types; when their strides are the
    /// map's key and value sizes the kernel copies straight into the returned arrays.
    @inlinable
    public func lookupBatch<Key: BitwiseCopyable, Value: BitwiseCopyable>(
        _ keyType: Key.Type = Key.self, _ valueType: Value.Type = Value.self,
        cursor: inout MapBatchCursor, maxCount: Int, deleting: Bool = false
    ) throws(MapError) -> (keys: [Key], values: [Value]) {
        let direct = try checkBatchTypes(
            keyLayout: TypedLayout(Key.self), valueLayout: TypedLayout(Value.self), deleting: deleting)
        guard direct else {
            let batch = try lookupBatch(cursor: &cursor, maxCount: maxCount, deleting: deleting)
            return (
                Map.unpack(batch.keys, count: batch.count, stride: Int(keySize), as: Key.self),
                Map.unpack(batch.values, count: batch.count, stride: valueBufferSize, as: Value.self)
            )
        }
        guard !cursor.isAtEnd else { return ([], []) }
        let count = max(maxCount, 0)
        _ = try batchBufferLengths(
            count: count, keyStride: MemoryLayout<Key>.stride, valueStride: MemoryLayout<Value>.stride,
            deleting ? .lookupAndDeleteBatch : .lookupBatch)
        var failure: MapError?
        var values: [Value] = []
        let keys = [Key](unsafeUninitializedCapacity: count) { keyBuffer, keyCount in
            values = [Value](unsafeUninitializedCapacity: count) { valueBuffer, valueCount in
                do throws(MapError) {
                    valueCount = try lookupBatch(
                        into: UnsafeMutableRawPointer(keyBuffer.baseAddress),
                        values: UnsafeMutableRawPointer(valueBuffer.baseAddress), capacity: count, cursor: &cursor,
                        deleting: deleting, flags: .any)
                } catch {
                    failure = error
                    valueCount = 0
                }
            }
            keyCount = values.count
        }
        if let failure { throw failure }
        return (keys, values)
    }

    /// Checks typed batch access: `Key` and `Value` must fit the map (not per-CPU). Returns
    /// whether their strides are the map's key and value sizes, so the kernel's back-to-back
    /// elements are an array of them.
    @usableFromInline
    func checkBatchTypes(keyLayout: TypedLayout, valueLayout: TypedLayout, deleting: Bool) throws(MapError) -> Bool {
        let operation: MapError.Operation = deleting ? .lookupAndDeleteBatch : .lookupBatch
        guard keyLayout.size == Int(keySize) || keyLayout.stride == Int(keySize) else {
            throw error(operation, .keySizeMismatch(given: keyLayout.size, expected: Int(keySize)))
        }
        guard !type.isPerCPU else {
            throw error(operation, .requiresPerCPUAccess(type))
        }
        guard valueLayout.size == Int(valueSize) || valueLayout.stride == Int(valueSize) else {
            throw error(operation, .valueSizeMismatch(given: valueLayout.size, expected: Int(valueSize)))
        }
        return keyLayout.stride == Int(keySize) && valueLayout.stride == valueBufferSize
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

    @usableFromInline
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
