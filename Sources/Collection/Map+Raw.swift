import EBPFSys

// Access by bytes: keys of ``Map/keySize`` bytes, values of ``Map/valueBufferSize`` bytes (for
// per-CPU maps the values of all possible CPUs, each in a slot of the value size rounded up to 8).

extension Map {
    /// The value bytes stored under `key`, nil when there is none.
    public func lookup(keyBytes key: [UInt8], flags: MapLookupFlags = []) throws(MapError) -> [UInt8]? {
        try checkKeyCount(key.count, .lookup)
        var value = [UInt8](repeating: 0, count: valueBufferSize)
        let found = try key.withBytes { (keyBytes: UnsafeRawBufferPointer) throws(MapError) -> Bool in
            try value.withMutableBytes { (valueBytes: UnsafeMutableRawBufferPointer) throws(MapError) -> Bool in
                try elementCall(.lookup, key: keyBytes.baseAddress, value: valueBytes.baseAddress, flags: flags.rawValue)
            }
        }
        return found ? value : nil
    }

    /// Stores `value` (``valueBufferSize`` bytes) under `key`.
    public func update(keyBytes key: [UInt8], valueBytes value: [UInt8], flags: MapUpdateFlags = .any) throws(MapError) {
        try key.withBytes { (keyBytes: UnsafeRawBufferPointer) throws(MapError) in
            try value.withBytes { (valueBytes: UnsafeRawBufferPointer) throws(MapError) in
                try update(key: keyBytes, value: valueBytes, flags: flags)
            }
        }
    }

    /// Removes `key`; false when it was not there.
    @discardableResult
    public func delete(keyBytes key: [UInt8]) throws(MapError) -> Bool {
        try checkKeyCount(key.count, .delete)
        return try key.withBytes { (keyBytes: UnsafeRawBufferPointer) throws(MapError) -> Bool in
            try elementCall(.delete, key: keyBytes.baseAddress, value: nil, flags: 0)
        }
    }

    /// The value bytes stored under `key`, which is removed; nil when there is none. Queues and
    /// stacks take an empty key.
    public func lookupAndDelete(keyBytes key: [UInt8]) throws(MapError) -> [UInt8]? {
        try checkKeyCount(key.count, .lookupAndDelete)
        var value = [UInt8](repeating: 0, count: valueBufferSize)
        let found = try key.withBytes { (keyBytes: UnsafeRawBufferPointer) throws(MapError) -> Bool in
            try value.withMutableBytes { (valueBytes: UnsafeMutableRawBufferPointer) throws(MapError) -> Bool in
                try elementCall(.lookupAndDelete, key: keyBytes.baseAddress, value: valueBytes.baseAddress, flags: 0)
            }
        }
        return found ? value : nil
    }

    /// The key after `key` in the kernel's iteration order, the first key when `key` is nil, and
    /// nil after the last key (`BPF_MAP_GET_NEXT_KEY`). A key that is no longer in a hash map
    /// gives its first key again.
    public func nextKey(after key: [UInt8]?) throws(MapError) -> [UInt8]? {
        if let key {
            try checkKeyCount(key.count, .nextKey)
        }
        var next = [UInt8](repeating: 0, count: Int(keySize))
        let found = try next.withMutableBytes { (nextBytes: UnsafeMutableRawBufferPointer) throws(MapError) -> Bool in
            guard let key else {
                return try nextKey(after: nil, into: nextBytes)
            }
            return try key.withBytes { (keyBytes: UnsafeRawBufferPointer) throws(MapError) -> Bool in
                try nextKey(after: keyBytes, into: nextBytes)
            }
        }
        return found ? next : nil
    }

    // MARK: Without copies

    /// Copies the value under `key` into `value`; false when there is none. Both buffers must
    /// have exactly the map's sizes. Allocates nothing.
    public func lookup(key: UnsafeRawBufferPointer, into value: UnsafeMutableRawBufferPointer) throws(MapError) -> Bool {
        try checkKeyCount(key.count, .lookup)
        guard value.count == valueBufferSize else {
            throw error(.lookup, .valueSizeMismatch(given: value.count, expected: valueBufferSize))
        }
        return try elementCall(.lookup, key: key.baseAddress, value: value.baseAddress, flags: 0)
    }

    /// Stores `value` under `key`. Both buffers must have exactly the map's sizes. Allocates nothing.
    public func update(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, flags: MapUpdateFlags = .any) throws(MapError) {
        try checkKeyCount(key.count, .update)
        guard value.count == valueBufferSize else {
            throw error(.update, .valueSizeMismatch(given: value.count, expected: valueBufferSize))
        }
        _ = try elementCall(.update, key: key.baseAddress, value: value.baseAddress, flags: flags.rawValue)
    }

    /// Writes the key after `key` (or the first key for nil) into `next`; false after the last.
    public func nextKey(after key: UnsafeRawBufferPointer?, into next: UnsafeMutableRawBufferPointer) throws(MapError) -> Bool {
        if let key {
            try checkKeyCount(key.count, .nextKey)
        }
        try checkKeyCount(next.count, .nextKey)
        return try withRawDescriptor(.nextKey) { (raw: UInt32) throws(MapError) -> Bool in
            var attributes = MapGetNextKeyAttr()
            attributes.mapFD = raw
            attributes.key = Sys.address(of: key?.baseAddress)
            attributes.nextKey = Sys.address(of: next.baseAddress)
            do throws(BPFSyscallError) {
                try Sys.mapGetNextKey(attributes)
            } catch where error.errno == .noSuchFileOrDirectory {
                return false
            } catch {
                throw self.error(.nextKey, .syscall(error))
            }
            return true
        }
    }

    func checkKeyCount(_ count: Int, _ operation: MapError.Operation) throws(MapError) {
        guard count == Int(keySize) else {
            throw error(operation, .keySizeMismatch(given: count, expected: Int(keySize)))
        }
    }
}
