import EBPFSys

/// Walks a map's elements with `BPF_MAP_GET_NEXT_KEY` and a lookup per key, as bytes.
///
/// Elements may be deleted while iterating, by this process or by programs: a key whose value is
/// gone by the time it is looked up is skipped, and a hash map that restarts from its first key
/// after the current key was deleted is followed. So that a map that keeps changing cannot hold
/// the iterator forever, it gives up with ``MapError/Reason/iterationAborted(afterKeys:)`` after
/// visiting as many keys as the map can hold. An element may be seen twice after such a restart.
///
/// ```swift
/// var iterator = map.rawIterator()
/// while let (key, value) = try iterator.next() { ... }
/// ```
public struct RawMapIterator: Sendable {
    public let map: Map
    private var previousKey: [UInt8]?
    private var visitedKeys = 0
    private var finished = false

    init(map: Map) {
        self.map = map
    }

    /// The next key and its value bytes (``Map/valueBufferSize`` of them), nil at the end.
    public mutating func next() throws(MapError) -> (key: [UInt8], value: [UInt8])? {
        guard !finished else { return nil }
        while true {
            guard let key = try map.nextKey(after: previousKey) else {
                finished = true
                return nil
            }
            guard visitedKeys < Int(map.maxEntries) else {
                finished = true
                throw map.error(.iterate, .iterationAborted(afterKeys: visitedKeys))
            }
            previousKey = key
            visitedKeys += 1
            // Gone since the key was listed (a concurrent delete), or an empty slot of a program
            // array or map of maps: nothing to report for it.
            guard let value = try map.lookup(keyBytes: key) else { continue }
            return (key, value)
        }
    }
}

/// ``RawMapIterator`` with keys and values read as `Key` and `Value`.
public struct MapIterator<Key: BitwiseCopyable, Value: BitwiseCopyable>: Sendable {
    private var raw: RawMapIterator

    init(map: Map) {
        raw = RawMapIterator(map: map)
    }

    /// The next element, nil at the end.
    public mutating func next() throws(MapError) -> (key: Key, value: Value)? {
        guard let (key, value) = try raw.next() else { return nil }
        let typedKey = key.withUnsafeBytes { $0.loadUnaligned(as: Key.self) }
        let typedValue = value.withUnsafeBytes { $0.loadUnaligned(as: Value.self) }
        return (typedKey, typedValue)
    }
}

extension Map {
    /// An iterator over keys and value bytes.
    public func rawIterator() -> RawMapIterator {
        RawMapIterator(map: self)
    }

    /// An iterator over typed keys and values (not for per-CPU maps: see ``entriesPerCPU(_:_:)``).
    public func iterator<Key: BitwiseCopyable, Value: BitwiseCopyable>(
        _ keyType: Key.Type = Key.self, _ valueType: Value.Type = Value.self
    ) throws(MapError) -> MapIterator<Key, Value> {
        try checkKeyType(Key.self, .iterate)
        try checkValueType(Value.self, .iterate)
        return MapIterator(map: self)
    }

    /// Every key in the map, in the kernel's order.
    public func keys<Key: BitwiseCopyable>(_ type: Key.Type = Key.self) throws(MapError) -> [Key] {
        try checkKeyType(Key.self, .iterate)
        var keys: [Key] = []
        var previous: [UInt8]?
        var visited = 0
        while let key = try nextKey(after: previous) {
            guard visited < Int(maxEntries) else {
                throw error(.iterate, .iterationAborted(afterKeys: visited))
            }
            visited += 1
            keys.append(key.withUnsafeBytes { $0.loadUnaligned(as: Key.self) })
            previous = key
        }
        return keys
    }

    /// Every element, in the kernel's order (see ``RawMapIterator`` for concurrent changes).
    public func entries<Key: BitwiseCopyable, Value: BitwiseCopyable>(
        _ keyType: Key.Type = Key.self, _ valueType: Value.Type = Value.self
    ) throws(MapError) -> [(key: Key, value: Value)] {
        var iterator = try iterator(Key.self, Value.self)
        var result: [(key: Key, value: Value)] = []
        while let entry = try iterator.next() {
            result.append(entry)
        }
        return result
    }

    /// Every element of a per-CPU map, with one value per possible CPU.
    public func entriesPerCPU<Key: BitwiseCopyable, Value: BitwiseCopyable>(
        _ keyType: Key.Type = Key.self, _ valueType: Value.Type = Value.self
    ) throws(MapError) -> [(key: Key, values: [Value])] {
        try checkKeyType(Key.self, .iterate)
        try checkPerCPU(Value.self, .iterate)
        var iterator = rawIterator()
        var result: [(key: Key, values: [Value])] = []
        while let (key, value) = try iterator.next() {
            let values = value.withUnsafeBytes { perCPUValues($0, as: Value.self) }
            result.append((key.withUnsafeBytes { $0.loadUnaligned(as: Key.self) }, values))
        }
        return result
    }

    func checkKeyType<Key: BitwiseCopyable>(_ type: Key.Type, _ operation: MapError.Operation) throws(MapError) {
        // Keys read back from the kernel are loaded from `keySize` bytes, so the type may not be larger.
        let size = MemoryLayout<Key>.size
        guard size == Int(keySize) || MemoryLayout<Key>.stride == Int(keySize) else {
            throw error(operation, .keySizeMismatch(given: size, expected: Int(keySize)))
        }
    }
}
