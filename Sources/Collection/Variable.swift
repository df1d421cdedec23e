import EBPFSys

/// A global variable of a loaded collection, read and written through its data-section map
/// (`.data`, `.bss`, `.rodata`, ...), or through the arena's mapping for an `__arena` global
/// (whose ``map`` is the arena).
///
/// When the map is memory-mappable (``MapFlags/mmapable``, which the object reader sets for
/// sections with variables visible outside their unit), reads and writes go straight to the
/// kernel's memory; otherwise each access is one map lookup or update of the whole section.
/// Variables of read-only sections (``isReadOnly``) are frozen once loaded: reading works,
/// writing throws.
///
/// ```swift
/// let packets = try collection.variable("packet_count")
/// let count = try packets.get(as: UInt64.self)
/// try packets.set(UInt64(0))
/// ```
public final class Variable: Sendable {
    public let name: String
    /// The data-section map the variable lives in.
    public let map: Map
    /// The name of that map in the spec.
    public let mapName: String
    /// The variable's byte offset in the map's value.
    public let offset: UInt32
    public let size: UInt32
    /// Whether programs see the variable as constant (its map is frozen after loading).
    public let isReadOnly: Bool
    /// The mapping of the map's value, when the map is memory-mappable.
    private let memory: MapMemory?

    init(spec: VariableSpec, map: Map) {
        self.name = spec.name
        self.map = map
        self.mapName = spec.mapName
        self.offset = spec.offset
        self.size = spec.size
        self.isReadOnly = spec.isReadOnly
        // A failed mmap only costs speed: accesses fall back to map lookups and updates. An arena
        // global goes through the arena's own mapping (``mapping()``).
        self.memory =
            map.type != .arena && map.flags.contains(.mmapable) ? try? map.memoryMapped(readOnly: spec.isReadOnly) : nil
    }

    /// Whether accesses go through a memory mapping rather than system calls.
    public var isMemoryMapped: Bool {
        memory != nil || map.type == .arena
    }

    /// The variable's current bytes.
    public func bytes() throws(CollectionError) -> [UInt8] {
        let start = Int(offset)
        let end = start + Int(size)
        if let memory = try mapping() {
            let bytes = memory.withUnsafeBytes { bytes in end <= bytes.count ? Array(bytes[start..<end]) : nil }
            guard let bytes else {
                throw CollectionError(
                    .assign,
                    .variable(.outOfBounds(variable: name, map: mapName, offset: offset, size: size, valueSize: memory.count)))
            }
            return bytes
        }
        let value: [UInt8]?
        do throws(MapError) {
            value = try map.lookup(keyBytes: [0, 0, 0, 0])
        } catch {
            throw CollectionError(.assign, .map(error))
        }
        guard let value, end <= value.count else {
            throw CollectionError(
                .assign,
                .variable(.outOfBounds(variable: name, map: mapName, offset: offset, size: size, valueSize: value?.count ?? 0)))
        }
        return Array(value[start..<end])
    }

    /// Replaces the variable's bytes; `bytes` must have the variable's size.
    ///
    /// Without a memory mapping this reads and writes the whole section, which races with
    /// programs writing other variables of the same section at the same time.
    public func setBytes(_ bytes: [UInt8]) throws(CollectionError) {
        guard bytes.count == Int(size) else {
            throw CollectionError(.assign, .variable(.sizeMismatch(variable: name, size: size, given: bytes.count)))
        }
        if let memory = try mapping() {
            guard !memory.isReadOnly else {
                throw CollectionError(.assign, .readOnlyVariable(name))
            }
            guard Int(offset) + bytes.count <= memory.count else {
                throw CollectionError(
                    .assign,
                    .variable(.outOfBounds(variable: name, map: mapName, offset: offset, size: size, valueSize: memory.count)))
            }
            for (index, byte) in bytes.enumerated() where !memory.store(byte, toByteOffset: Int(offset) + index) {
                throw CollectionError(
                    .assign,
                    .variable(.outOfBounds(variable: name, map: mapName, offset: offset, size: size, valueSize: memory.count)))
            }
            return
        }
        do throws(MapError) {
            guard var value = try map.lookup(keyBytes: [0, 0, 0, 0]), Int(offset) + bytes.count <= value.count else {
                throw MapError(mapName: mapName, operation: .lookup, reason: .valueSizeMismatch(given: 0, expected: Int(size)))
            }
            value.replaceSubrange(Int(offset)..<(Int(offset) + bytes.count), with: bytes)
            try map.update(keyBytes: [0, 0, 0, 0], valueBytes: value)
        } catch {
            throw CollectionError(.assign, .map(error))
        }
    }

    /// The mapping accesses go through: the arena's (made at load; an arena has no lookups or
    /// updates, so its mapping's error is the answer), or the data section's when it has one.
    private func mapping() throws(CollectionError) -> MapMemory? {
        guard map.type == .arena else { return memory }
        do throws(MapError) {
            return try map.arenaMemory()
        } catch {
            throw CollectionError(.assign, .map(error))
        }
    }

    /// The variable's value as `Value`, which must have the variable's size. Values are in the
    /// host's byte order, as the kernel stores them.
    public func get<Value: BitwiseCopyable>(as type: Value.Type = Value.self) throws(CollectionError) -> Value {
        guard MemoryLayout<Value>.size == Int(size) else {
            throw CollectionError(
                .assign, .variable(.sizeMismatch(variable: name, size: size, given: MemoryLayout<Value>.size)))
        }
        let bytes = try bytes()
        return bytes.withUnsafeBytes { $0.loadUnaligned(as: Value.self) }
    }

    /// Stores `value`, which must have the variable's size.
    public func set<Value: BitwiseCopyable>(_ value: Value) throws(CollectionError) {
        let bytes = withUnsafeBytes(of: value) { Array($0) }
        try setBytes(bytes)
    }
}
