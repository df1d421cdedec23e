// Byte-level conveniences over the map commands. Keys and values are raw bytes of the sizes the
// map was created with; typed access lives in EBPFCollection's `Map`.

/// What one batch lookup returned.
public struct MapBatchLookup: Sendable {
    /// `count` keys of `keySize` bytes each, back to back.
    public var keys: [UInt8]
    /// `count` values of `valueSize` bytes each, back to back.
    public var values: [UInt8]
    /// How many elements the kernel copied.
    public var count: Int
    /// The token to pass to the next lookup, nil when the end of the map was reached.
    public var nextToken: [UInt8]?
}

/// The single-element map commands, for ``Sys/mapElementCall(_:mapFD:key:value:flags:)``.
///
/// The raw values are the kernel's command numbers, so that ``command`` is the number itself and
/// not a branch per case on every map call (a test checks them against ``BPFCommand``'s).
public enum MapElementCommand: Int32, Sendable {
    /// `BPF_MAP_LOOKUP_ELEM`.
    case lookup = 1
    /// `BPF_MAP_UPDATE_ELEM`.
    case update = 2
    /// `BPF_MAP_DELETE_ELEM`.
    case delete = 3
    /// `BPF_MAP_LOOKUP_AND_DELETE_ELEM`.
    case lookupAndDelete = 21

    /// The bpf command.
    @inlinable
    public var command: BPFCommand {
        BPFCommand(rawValue: rawValue)
    }
}

extension Sys {
    /// One single-element command on raw key and value addresses, for hot paths such as
    /// `Map.lookup`: nil when it succeeded, else the errno (after the usual `EINTR` retries, and
    /// through the interceptor like every call). It builds no error value, so a failure that the
    /// caller expects (`ENOENT` for an absent key) costs nothing extra;
    /// ``BPFSyscallError/init(failedCommand:errno:)`` makes the error that ``mapLookupElem(_:)``
    /// and its siblings throw.
    @inlinable
    public static func mapElementCall(
        _ command: MapElementCommand, mapFD: UInt32, key: UnsafeRawPointer?, value: UnsafeRawPointer?,
        flags: UInt64
    ) -> Errno? {
        var attributes = MapElemAttr()
        attributes.mapFD = mapFD
        attributes.key = address(of: key)
        attributes.value = address(of: value)
        attributes.flags = flags
        switch BPFSyscall.call(command.command, &attributes) {
        case .success: return nil
        case .failure(let errno): return errno
        }
    }

    /// Creates a map with the common attributes; the map type and flags are the kernel's raw
    /// numbers (`BPF_MAP_TYPE_HASH` is 1, `BPF_MAP_TYPE_ARRAY` 2).
    public static func createMap(
        type: UInt32, keySize: UInt32, valueSize: UInt32, maxEntries: UInt32, flags: UInt32 = 0,
        name: BPFObjectName = BPFObjectName()
    ) throws(BPFSyscallError) -> FileDescriptor {
        var attributes = MapCreateAttr()
        attributes.mapType = type
        attributes.keySize = keySize
        attributes.valueSize = valueSize
        attributes.maxEntries = maxEntries
        attributes.mapFlags = flags
        attributes.mapName = name
        return try mapCreate(attributes)
    }

    /// The value stored under `key`, `valueSize` bytes long.
    /// - Throws: `ENOENT` (``Errno/noSuchFileOrDirectory``) when the key is absent.
    public static func lookupElement(
        map: borrowing FileDescriptor, key: [UInt8], valueSize: Int, flags: UInt64 = 0
    ) throws(BPFSyscallError) -> [UInt8] {
        try elementOperation(.mapLookupElem, map: map, key: key, valueSize: valueSize, flags: flags)
    }

    /// The value stored under `key`, which is removed. Requires Linux 5.14 for hash maps.
    public static func lookupAndDeleteElement(
        map: borrowing FileDescriptor, key: [UInt8], valueSize: Int, flags: UInt64 = 0
    ) throws(BPFSyscallError) -> [UInt8] {
        try elementOperation(.mapLookupAndDeleteElem, map: map, key: key, valueSize: valueSize, flags: flags)
    }

    /// Stores `value` under `key`. `flags`: 0 (`BPF_ANY`), 1 (`BPF_NOEXIST`), 2 (`BPF_EXIST`).
    public static func updateElement(
        map: borrowing FileDescriptor, key: [UInt8], value: [UInt8], flags: UInt64 = 0
    ) throws(BPFSyscallError) {
        var attributes = MapElemAttr()
        attributes.mapFD = UInt32(bitPattern: map.rawValue)
        attributes.flags = flags
        let result = key.withUnsafeBytes { keyBytes in
            value.withUnsafeBytes { valueBytes in
                attributes.key = address(of: keyBytes.baseAddress)
                attributes.value = address(of: valueBytes.baseAddress)
                return Result { () throws(BPFSyscallError) in try mapUpdateElem(attributes) }
            }
        }
        try result.get()
    }

    /// Removes `key`.
    /// - Throws: `ENOENT` when the key is absent.
    public static func deleteElement(map: borrowing FileDescriptor, key: [UInt8]) throws(BPFSyscallError) {
        var attributes = MapElemAttr()
        attributes.mapFD = UInt32(bitPattern: map.rawValue)
        let result = key.withUnsafeBytes { keyBytes in
            attributes.key = address(of: keyBytes.baseAddress)
            return Result { () throws(BPFSyscallError) in try mapDeleteElem(attributes) }
        }
        try result.get()
    }

    /// The key after `key` in the map's iteration order, or its first key when `key` is nil; nil
    /// after the last key.
    public static func nextKey(
        map: borrowing FileDescriptor, after key: [UInt8]?, keySize: Int
    ) throws(BPFSyscallError) -> [UInt8]? {
        var next = [UInt8](repeating: 0, count: max(keySize, 0))
        var attributes = MapGetNextKeyAttr()
        attributes.mapFD = UInt32(bitPattern: map.rawValue)
        let result = next.withUnsafeMutableBytes { nextBytes in
            withOptionalBytes(key) { keyBytes in
                attributes.key = address(of: keyBytes)
                attributes.nextKey = address(of: nextBytes.baseAddress)
                return Result { () throws(BPFSyscallError) in try mapGetNextKey(attributes) }
            }
        }
        do {
            try result.get()
        } catch where error.errno == .noSuchFileOrDirectory {
            return nil
        }
        return next
    }

    /// Copies up to `maxCount` elements, starting after `token` (from the previous call's
    /// ``MapBatchLookup/nextToken``) or at the start when it is nil. With `deleting`, the copied
    /// elements are removed (`BPF_MAP_LOOKUP_AND_DELETE_BATCH`).
    public static func lookupBatch(
        map: borrowing FileDescriptor, keySize: Int, valueSize: Int, maxCount: Int,
        after token: [UInt8]?, deleting: Bool = false, elemFlags: UInt64 = 0
    ) throws(BPFSyscallError) -> MapBatchLookup {
        let command: BPFCommand = deleting ? .mapLookupAndDeleteBatch : .mapLookupBatch
        guard keySize >= 0, valueSize >= 0, maxCount >= 0, let count32 = UInt32(exactly: maxCount),
            case (let keysLength, false) = keySize.multipliedReportingOverflow(by: maxCount),
            case (let valuesLength, false) = valueSize.multipliedReportingOverflow(by: maxCount)
        else {
            throw BPFSyscallError(command: command, errno: .invalidArgument)
        }
        // Hash maps use a 4-byte bucket index as the token, other maps a key.
        let tokenSize = max(keySize, 4)
        var keys = [UInt8](repeating: 0, count: keysLength)
        var values = [UInt8](repeating: 0, count: valuesLength)
        var outToken = [UInt8](repeating: 0, count: tokenSize)
        var attributes = MapBatchAttr()
        attributes.mapFD = UInt32(bitPattern: map.rawValue)
        attributes.count = count32
        attributes.elemFlags = elemFlags
        let result = keys.withUnsafeMutableBytes { keyBytes in
            values.withUnsafeMutableBytes { valueBytes in
                outToken.withUnsafeMutableBytes { outBytes in
                    withOptionalBytes(token) { inBytes in
                        attributes.keys = address(of: keyBytes.baseAddress)
                        attributes.values = address(of: valueBytes.baseAddress)
                        attributes.outBatch = address(of: outBytes.baseAddress)
                        attributes.inBatch = address(of: inBytes)
                        return Result { () throws(BPFSyscallError) in
                            _ = try BPFSyscall.perform(command, &attributes)
                        }
                    }
                }
            }
        }
        var reachedEnd = false
        do {
            try result.get()
        } catch where error.errno == .noSuchFileOrDirectory {
            reachedEnd = true
        }
        let copied = min(Int(attributes.count), maxCount)
        keys.removeSubrange((copied * keySize)...)
        values.removeSubrange((copied * valueSize)...)
        return MapBatchLookup(keys: keys, values: values, count: copied, nextToken: reachedEnd ? nil : outToken)
    }

    /// Stores `count` elements (`keys` and `values` back to back); returns how many were stored.
    public static func updateBatch(
        map: borrowing FileDescriptor, keys: [UInt8], values: [UInt8], count: Int, elemFlags: UInt64 = 0
    ) throws(BPFSyscallError) -> Int {
        guard let count32 = UInt32(exactly: count) else {
            throw BPFSyscallError(command: .mapUpdateBatch, errno: .invalidArgument)
        }
        var attributes = MapBatchAttr()
        attributes.mapFD = UInt32(bitPattern: map.rawValue)
        attributes.count = count32
        attributes.elemFlags = elemFlags
        let result = keys.withUnsafeBytes { keyBytes in
            values.withUnsafeBytes { valueBytes in
                attributes.keys = address(of: keyBytes.baseAddress)
                attributes.values = address(of: valueBytes.baseAddress)
                return Result { () throws(BPFSyscallError) in try mapUpdateBatch(&attributes) }
            }
        }
        try result.get()
        return Int(attributes.count)
    }

    /// Removes `count` keys (back to back in `keys`); returns how many were removed.
    public static func deleteBatch(
        map: borrowing FileDescriptor, keys: [UInt8], count: Int, elemFlags: UInt64 = 0
    ) throws(BPFSyscallError) -> Int {
        guard let count32 = UInt32(exactly: count) else {
            throw BPFSyscallError(command: .mapDeleteBatch, errno: .invalidArgument)
        }
        var attributes = MapBatchAttr()
        attributes.mapFD = UInt32(bitPattern: map.rawValue)
        attributes.count = count32
        attributes.elemFlags = elemFlags
        let result = keys.withUnsafeBytes { keyBytes in
            attributes.keys = address(of: keyBytes.baseAddress)
            return Result { () throws(BPFSyscallError) in try mapDeleteBatch(&attributes) }
        }
        try result.get()
        return Int(attributes.count)
    }

    /// Makes the map read-only for user space (`BPF_MAP_FREEZE`).
    public static func freezeMap(_ map: borrowing FileDescriptor) throws(BPFSyscallError) {
        var attributes = MapFreezeAttr()
        attributes.mapFD = UInt32(bitPattern: map.rawValue)
        try mapFreeze(attributes)
    }

    // MARK: - Helpers

    private static func elementOperation(
        _ command: BPFCommand, map: borrowing FileDescriptor, key: [UInt8], valueSize: Int, flags: UInt64
    ) throws(BPFSyscallError) -> [UInt8] {
        guard valueSize >= 0 else {
            throw BPFSyscallError(command: command, errno: .invalidArgument)
        }
        var value = [UInt8](repeating: 0, count: valueSize)
        var attributes = MapElemAttr()
        attributes.mapFD = UInt32(bitPattern: map.rawValue)
        attributes.flags = flags
        let result = key.withUnsafeBytes { keyBytes in
            value.withUnsafeMutableBytes { valueBytes in
                attributes.key = address(of: keyBytes.baseAddress)
                attributes.value = address(of: valueBytes.baseAddress)
                return Result { () throws(BPFSyscallError) in
                    _ = try BPFSyscall.perform(command, &attributes)
                }
            }
        }
        try result.get()
        return value
    }

    /// Calls `body` with the bytes' address, or nil for a nil array.
    static func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawPointer?) -> R) -> R {
        guard let bytes else {
            return body(nil)
        }
        return bytes.withUnsafeBytes { body($0.baseAddress) }
    }
}
