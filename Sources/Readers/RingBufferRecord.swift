import Synchronization

/// A record copied out of a ring buffer: a value that owns its bytes.
///
/// A record of up to ``inlineCapacity`` bytes (most events) keeps them inside the value itself:
/// copying it out of a ring, passing it on and dropping it allocate nothing and count no
/// references (an atomic operation each, which would cost more than the rest of reading the
/// record). A longer one keeps them in an array. Read the bytes in place with
/// ``withUnsafeBytes(_:)`` or ``decode(as:)``; ``bytes`` makes an array of a short record's bytes.
public struct RingBufferRecord: Sendable, Hashable {
    /// The index of the ring the record came from, in the order the reader was given the maps.
    public var ring: Int
    @usableFromInline var storage: RecordBytes

    /// The longest record kept inside the value.
    public static let inlineCapacity = RecordBytes.inlineCapacity

    public init(ring: Int, bytes: ArraySlice<UInt8>) {
        self.ring = ring
        storage = RecordBytes(bytes)
    }

    public init(ring: Int, bytes: [UInt8]) {
        self.init(ring: ring, bytes: bytes[...])
    }

    /// A record holding a copy of `bytes`.
    @inlinable @inline(__always)
    public init(ring: Int, copying bytes: UnsafeRawBufferPointer) {
        self.ring = ring
        storage = RecordBytes(copying: bytes)
    }

    /// How many bytes the record has.
    @inlinable public var count: Int { storage.count }

    /// The record's bytes as an array slice (a new array for a record kept inline).
    public var bytes: ArraySlice<UInt8> {
        get { storage.slice }
        set { storage = RecordBytes(newValue) }
    }

    /// Runs `body` on the record's bytes in place.
    @inlinable
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try storage.withUnsafeBytes(body)
    }

    /// The bytes decoded as `Value`, nil when the record is shorter than `Value`.
    @inlinable
    public func decode<Value: BitwiseCopyable>(as type: Value.Type = Value.self) -> Value? {
        guard count >= MemoryLayout<Value>.size else { return nil }
        return withUnsafeBytes { $0.loadUnaligned(as: Value.self) }
    }

    /// The bytes after a fixed-size `Header` (see ``RingBufferRecordView/bytes(after:)``).
    public func bytes<Header: BitwiseCopyable>(after header: Header.Type) -> ArraySlice<UInt8> {
        withUnsafeBytes { bytes in
            ArraySlice(bytes.count > MemoryLayout<Header>.size ? bytes[MemoryLayout<Header>.size...] : bytes[bytes.count...])
        }
    }

    public static func == (left: RingBufferRecord, right: RingBufferRecord) -> Bool {
        guard left.ring == right.ring, left.count == right.count else { return false }
        return left.withUnsafeBytes { leftBytes in right.withUnsafeBytes { leftBytes.elementsEqual($0) } }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(ring)
        withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

/// The bytes of a ``RingBufferRecord``: inside the value up to ``inlineCapacity``, else in an
/// array.
///
/// The array is never optional: a short record holds the shared empty array, whose reference
/// counting touches no shared counter, and the value is copied and dropped by plain code. (With an
/// optional array slice instead, copies of this large value went through value witnesses and cost
/// several times the rest of reading a record.)
@usableFromInline
struct RecordBytes: Sendable {
    @usableFromInline typealias Inline = (
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64
    )
    @usableFromInline static let inlineCapacity = MemoryLayout<Inline>.size

    @usableFromInline let count: Int
    @usableFromInline var inline: Inline = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    /// The bytes of a record longer than ``inlineCapacity``; empty for a shorter one.
    @usableFromInline var heap: [UInt8]

    @inlinable @inline(__always)
    init(copying source: UnsafeRawBufferPointer) {
        count = source.count
        if source.count <= Self.inlineCapacity {
            heap = []
            if let base = source.baseAddress {
                Swift.withUnsafeMutableBytes(of: &inline) { inline in
                    inline.baseAddress?.copyMemory(from: base, byteCount: source.count)
                }
            }
        } else {
            heap = Self.array(source)
        }
    }

    @usableFromInline
    static func array(_ source: UnsafeRawBufferPointer) -> [UInt8] {
        Array(source)
    }

    init(_ bytes: ArraySlice<UInt8>) {
        self = bytes.withUnsafeBytes { RecordBytes(copying: $0) }
    }

    @inlinable
    var isInline: Bool { count <= Self.inlineCapacity }

    @inlinable
    func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        if !isInline { return try heap.withUnsafeBytes(body) }
        return try Swift.withUnsafeBytes(of: inline) { inline in
            try body(UnsafeRawBufferPointer(rebasing: inline[..<count]))
        }
    }

    var slice: ArraySlice<UInt8> {
        isInline ? withUnsafeBytes { ArraySlice($0) } : heap[...]
    }
}

// MARK: - Ordered access to the ring's shared words

/// Loads a record header with acquire ordering (pairs with the kernel's release when it commits
/// the record), from code inlined into clients, where the C shim is out of reach.
@inlinable @inline(__always)
func loadAcquire(_ address: UnsafeRawPointer) -> UInt32 {
    address.assumingMemoryBound(to: Atomic<UInt32>.self).pointee.load(ordering: .acquiring)
}

/// Stores a consumer position with release ordering: the kernel may reuse the space only after
/// our reads of it are done.
@inlinable @inline(__always)
func storeRelease(_ address: UnsafeMutableRawPointer, _ value: UInt64) {
    address.assumingMemoryBound(to: Atomic<UInt64>.self).pointee.store(value, ordering: .releasing)
}
