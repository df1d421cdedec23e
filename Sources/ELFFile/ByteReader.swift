/// The order in which a multi-byte integer's bytes are stored.
///
/// ELF records it in `e_ident[EI_DATA]`: `ELFDATA2LSB` or `ELFDATA2MSB`.
public enum ELFByteOrder: Sendable, Hashable {
    /// Least significant byte first (`ELFDATA2LSB`), as on x86-64 and `bpfel`.
    case littleEndian
    /// Most significant byte first (`ELFDATA2MSB`), as on s390x and `bpfeb`.
    case bigEndian

    /// The byte order of the machine running this code.
    public static var host: ELFByteOrder {
        UInt16(littleEndian: 1) == 1 ? .littleEndian : .bigEndian
    }
}

/// A read past the end of the bytes a ``ByteReader`` covers.
public struct ByteReaderError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The offset of the read, relative to the start of the reader.
    public var offset: Int
    /// How many bytes the read needed.
    public var needed: Int
    /// How many bytes the reader covers.
    public var available: Int

    public init(offset: Int, needed: Int, available: Int) {
        self.offset = offset
        self.needed = needed
        self.available = available
    }

    public var description: String {
        "read of \(needed) bytes at offset \(offset) is out of bounds (\(available) bytes available)"
    }
}

/// A bounds-checked reader of fixed-width integers from a byte buffer in a given byte order.
///
/// Offsets are relative to the start of ``bytes``, whatever the slice's own indices are.
/// Every read checks its bounds and throws ``ByteReaderError`` instead of trapping, so
/// offsets taken from untrusted input can be passed straight in.
///
/// ```swift
/// let reader = ByteReader(bytes: blob[...], byteOrder: .littleEndian)
/// let magic = try reader.readU16(at: 0)
/// ```
public struct ByteReader: Sendable {
    /// The bytes this reader covers.
    public let bytes: ArraySlice<UInt8>
    /// The byte order multi-byte integers are stored in.
    public let byteOrder: ELFByteOrder

    public init(bytes: ArraySlice<UInt8>, byteOrder: ELFByteOrder) {
        self.bytes = bytes
        self.byteOrder = byteOrder
    }

    public init(bytes: [UInt8], byteOrder: ELFByteOrder) {
        self.init(bytes: bytes[...], byteOrder: byteOrder)
    }

    /// The number of bytes the reader covers.
    @inlinable public var count: Int { bytes.count }

    /// Checks that `length` bytes starting at `offset` lie inside the reader.
    @inlinable
    public func checkBounds(offset: Int, length: Int) throws(ByteReaderError) {
        guard offset >= 0, length >= 0, offset <= bytes.count, length <= bytes.count - offset else {
            throw ByteReaderError(offset: offset, needed: length, available: bytes.count)
        }
    }

    @inlinable
    func load<T: FixedWidthInteger>(_: T.Type, at offset: Int) throws(ByteReaderError) -> T {
        try checkBounds(offset: offset, length: MemoryLayout<T>.size)
        let raw = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
        switch byteOrder {
        case .littleEndian: return T(littleEndian: raw)
        case .bigEndian: return T(bigEndian: raw)
        }
    }

    /// `body` on the `length` bytes at `offset`, checked once, for reading many fields of a
    /// record with ``RecordFields`` (each checked read copies the reader's storage reference).
    func withRecord<Result>(at offset: Int, length: Int, _ body: (RecordFields) -> Result) throws(ByteReaderError) -> Result {
        try checkBounds(offset: offset, length: length)
        return bytes.withUnsafeBytes { buffer in
            body(RecordFields(bytes: UnsafeRawBufferPointer(rebasing: buffer[offset..<(offset + length)]), byteOrder: byteOrder))
        }
    }

    @inlinable public func readU8(at offset: Int) throws(ByteReaderError) -> UInt8 {
        try checkBounds(offset: offset, length: 1)
        return bytes[bytes.startIndex + offset]
    }

    @inlinable public func readI8(at offset: Int) throws(ByteReaderError) -> Int8 {
        Int8(bitPattern: try readU8(at: offset))
    }

    @inlinable public func readU16(at offset: Int) throws(ByteReaderError) -> UInt16 {
        try load(UInt16.self, at: offset)
    }

    @inlinable public func readI16(at offset: Int) throws(ByteReaderError) -> Int16 {
        try load(Int16.self, at: offset)
    }

    @inlinable public func readU32(at offset: Int) throws(ByteReaderError) -> UInt32 {
        try load(UInt32.self, at: offset)
    }

    @inlinable public func readI32(at offset: Int) throws(ByteReaderError) -> Int32 {
        try load(Int32.self, at: offset)
    }

    @inlinable public func readU64(at offset: Int) throws(ByteReaderError) -> UInt64 {
        try load(UInt64.self, at: offset)
    }

    @inlinable public func readI64(at offset: Int) throws(ByteReaderError) -> Int64 {
        try load(Int64.self, at: offset)
    }

    /// The `length` bytes starting at `offset`, as a slice of the underlying buffer.
    @inlinable
    public func slice(at offset: Int, length: Int) throws(ByteReaderError) -> ArraySlice<UInt8> {
        try checkBounds(offset: offset, length: length)
        let start = bytes.startIndex + offset
        return bytes[start..<(start + length)]
    }

    /// A reader over the `length` bytes starting at `offset`, in the same byte order.
    @inlinable
    public func subReader(at offset: Int, length: Int) throws(ByteReaderError) -> ByteReader {
        ByteReader(bytes: try slice(at: offset, length: length), byteOrder: byteOrder)
    }

    /// The NUL-terminated string starting at `offset`, decoded as UTF-8 (invalid sequences
    /// are replaced), or `nil` when no NUL byte follows before the end of the reader.
    @inlinable
    public func readCString(at offset: Int) throws(ByteReaderError) -> String? {
        try checkBounds(offset: offset, length: 0)
        let start = bytes.startIndex + offset
        guard let end = bytes[start...].firstIndex(of: 0) else { return nil }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }
}

/// The fields of one record whose bounds were checked as a whole (``ByteReader/withRecord(at:length:_:)``).
/// Callers read fields at constant offsets inside the length they asked for; a read past the
/// record's end is a bug in the caller, not something input can cause.
struct RecordFields {
    let bytes: UnsafeRawBufferPointer
    let byteOrder: ELFByteOrder

    private func load<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        let raw = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        return byteOrder == .littleEndian ? T(littleEndian: raw) : T(bigEndian: raw)
    }

    func u8(at offset: Int) -> UInt8 { load(UInt8.self, at: offset) }
    func u16(at offset: Int) -> UInt16 { load(UInt16.self, at: offset) }
    func u32(at offset: Int) -> UInt32 { load(UInt32.self, at: offset) }
    func u64(at offset: Int) -> UInt64 { load(UInt64.self, at: offset) }
}
