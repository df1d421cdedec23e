import EBPFELFFile
import Testing

@Suite("ByteReader")
struct ByteReaderTests {
    let bytes: [UInt8] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0xFF, 0x41, 0x42, 0x00]

    @Test func littleEndian() throws {
        let reader = ByteReader(bytes: bytes, byteOrder: .littleEndian)
        #expect(try reader.readU8(at: 8) == 0xFF)
        #expect(try reader.readI8(at: 8) == -1)
        #expect(try reader.readU16(at: 0) == 0x0201)
        #expect(try reader.readU32(at: 1) == 0x0504_0302)
        #expect(try reader.readU64(at: 0) == 0x0807_0605_0403_0201)
        #expect(try reader.readI16(at: 7) == Int16(bitPattern: 0xFF08))
        #expect(try reader.readCString(at: 9) == "AB")
    }

    @Test func bigEndian() throws {
        let reader = ByteReader(bytes: bytes, byteOrder: .bigEndian)
        #expect(try reader.readU16(at: 0) == 0x0102)
        #expect(try reader.readU32(at: 1) == 0x0203_0405)
        #expect(try reader.readU64(at: 0) == 0x0102_0304_0506_0708)
        #expect(try reader.readI32(at: 8) == Int32(bitPattern: 0xFF41_4200))
        #expect(try reader.readI64(at: 0) == 0x0102_0304_0506_0708)
    }

    @Test func slicesAreRelative() throws {
        let reader = ByteReader(bytes: bytes[4...], byteOrder: .littleEndian)
        #expect(reader.count == 8)
        #expect(try reader.readU8(at: 0) == 0x05)
        let inner = try reader.subReader(at: 4, length: 4)
        #expect(try inner.readU32(at: 0) == 0x0042_41FF)
        #expect(throws: ByteReaderError(offset: 1, needed: 4, available: 4)) { try inner.readU32(at: 1) }
        #expect(Array(try reader.slice(at: 1, length: 2)) == [0x06, 0x07])
    }

    @Test func outOfBounds() throws {
        let reader = ByteReader(bytes: bytes, byteOrder: .littleEndian)
        #expect(throws: ByteReaderError(offset: 12, needed: 1, available: 12)) { try reader.readU8(at: 12) }
        #expect(throws: ByteReaderError(offset: 5, needed: 8, available: 12)) { try reader.readU64(at: 5) }
        #expect(throws: ByteReaderError(offset: -1, needed: 2, available: 12)) { try reader.readU16(at: -1) }
        #expect(throws: ByteReaderError(offset: Int.max, needed: 4, available: 12)) { try reader.readU32(at: Int.max) }
        #expect(throws: ByteReaderError(offset: 2, needed: -1, available: 12)) { try reader.slice(at: 2, length: -1) }
        #expect(try reader.readCString(at: 12) == nil)
        #expect(try reader.readCString(at: 0) == "\u{1}\u{2}\u{3}\u{4}\u{5}\u{6}\u{7}\u{8}\u{FFFD}AB")
    }
}
