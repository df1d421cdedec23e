/// The byte order a BTF blob was written in, told by how its magic number reads.
public enum BTFByteOrder: Sendable, Hashable {
    case littleEndian
    case bigEndian
}

/// The fixed header at the start of every BTF blob (`struct btf_header`).
///
/// It locates the type and string sections relative to the end of the header. Parsing checks
/// the magic (which also gives the byte order), the version, and that both sections lie inside
/// the blob without overlapping the header.
public struct BTFHeader: Sendable, Hashable {
    /// `BTF_MAGIC`, as it reads in the blob's own byte order.
    public static let magic: UInt16 = 0xEB9F
    /// The only BTF version the kernel defines.
    public static let version: UInt8 = 1
    /// The size of the header this library knows; longer headers must have zeroes in the tail.
    public static let knownSize = 24

    public var byteOrder: BTFByteOrder
    public var version: UInt8
    public var flags: UInt8
    /// `hdr_len`: the size of the header, where the sections' offsets start counting.
    public var headerLength: UInt32
    public var typeOffset: UInt32
    public var typeLength: UInt32
    public var stringOffset: UInt32
    public var stringLength: UInt32

    /// Parses and validates the header of `bytes`.
    public init(parsing bytes: UnsafeRawBufferPointer) throws(BTFError) {
        guard bytes.count >= Self.knownSize else {
            throw .truncatedHeader(available: bytes.count, needed: Self.knownSize)
        }
        let magicLittle = UInt16(bytes[0]) | UInt16(bytes[1]) << 8
        if magicLittle == Self.magic {
            byteOrder = .littleEndian
        } else if magicLittle.byteSwapped == Self.magic {
            byteOrder = .bigEndian
        } else {
            throw .badMagic(magicLittle)
        }
        let order = byteOrder
        func word(_ offset: Int) -> UInt32 {
            let raw = UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8
                | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
            return order == .littleEndian ? raw : raw.byteSwapped
        }
        version = bytes[2]
        flags = bytes[3]
        headerLength = word(4)
        typeOffset = word(8)
        typeLength = word(12)
        stringOffset = word(16)
        stringLength = word(20)

        guard version == Self.version else { throw .unsupportedVersion(version) }
        guard headerLength >= UInt32(Self.knownSize), UInt64(headerLength) <= UInt64(bytes.count) else {
            throw .badHeaderLength(headerLength, blobSize: bytes.count)
        }
        // A newer, longer header is acceptable only when the fields we do not know are zero.
        for offset in Self.knownSize..<Int(headerLength) where bytes[offset] != 0 {
            throw .unknownHeaderField(offset: offset)
        }
        let dataSize = UInt64(bytes.count) - UInt64(headerLength)
        for (name, offset, length) in [("type", typeOffset, typeLength), ("string", stringOffset, stringLength)] {
            guard UInt64(offset) + UInt64(length) <= dataSize else {
                throw .sectionOutOfBounds(
                    section: name, offset: offset, length: length, available: dataSize)
            }
        }
        guard typeOffset % 4 == 0 else { throw .misalignedTypeSection(offset: typeOffset) }
    }

    /// Parses the header at the start of `bytes`.
    public init(parsing bytes: [UInt8]) throws(BTFError) {
        // withUnsafeBytes rethrows untyped errors, so carry the typed one out in a Result.
        let result = bytes.withUnsafeBytes { raw in Result { () throws(BTFError) in try BTFHeader(parsing: raw) } }
        self = try result.get()
    }
}
