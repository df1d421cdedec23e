import EBPFBTF
import Testing
import TestSupport

@Suite("BTF header", .checksFileDescriptorLeaks)
struct BTFHeaderTests {
    static func header(
        magic: [UInt8] = [0x9F, 0xEB], version: UInt8 = 1, headerLength: UInt32 = 24,
        typeLength: UInt32 = 0, stringLength: UInt32 = 1, extra: [UInt8] = []
    ) -> [UInt8] {
        func le(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) } }
        var bytes = magic + [version, 0] + le(headerLength) + le(0) + le(typeLength) + le(typeLength) + le(stringLength)
        bytes += extra
        bytes += [UInt8](repeating: 0, count: Int(typeLength + stringLength))
        return bytes
    }

    @Test func parsesTheRunningKernelsBTF() throws {
        let bytes = try #require(readFile("/sys/kernel/btf/vmlinux"), "/sys/kernel/btf/vmlinux is readable on the test machines")
        let header = try BTFHeader(parsing: bytes)
        #expect(header.byteOrder == .littleEndian)
        #expect(header.headerLength == 24)
        #expect(header.typeLength > 1_000_000)
        #expect(Int(header.headerLength + header.stringOffset + header.stringLength) == bytes.count)
    }

    @Test func bigEndianMagicGivesBigEndian() throws {
        var bytes = Self.header()
        bytes[0] = 0xEB
        bytes[1] = 0x9F
        // The lengths were written little endian; read big endian they are far out of bounds.
        #expect(throws: BTFError.self) { try BTFHeader(parsing: bytes) }
        let swapped: [UInt8] = [0xEB, 0x9F, 1, 0, 0, 0, 0, 24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]
        #expect(try BTFHeader(parsing: swapped).byteOrder == .bigEndian)
    }

    @Test func badInputGivesTypedErrors() {
        #expect(throws: BTFError.truncatedHeader(available: 3, needed: 24)) { try BTFHeader(parsing: [0x9F, 0xEB, 1]) }
        #expect(throws: BTFError.badMagic(0x1234)) { try BTFHeader(parsing: Self.header(magic: [0x34, 0x12])) }
        #expect(throws: BTFError.unsupportedVersion(2)) { try BTFHeader(parsing: Self.header(version: 2)) }
        #expect(throws: BTFError.unknownHeaderField(offset: 25)) {
            try BTFHeader(parsing: Self.header(headerLength: 28, extra: [0, 7, 0, 0]))
        }
        var short = Self.header(typeLength: 16)
        short.removeLast(1)
        #expect(throws: BTFError.sectionOutOfBounds(section: "string", offset: 16, length: 1, available: 16)) {
            try BTFHeader(parsing: short)
        }
    }

    @Test func everyTruncationOfTheKernelHeaderIsAnError() throws {
        let bytes = try #require(readFile("/sys/kernel/btf/vmlinux"))
        for length in 0..<64 {
            #expect(throws: BTFError.self) { try BTFHeader(parsing: Array(bytes.prefix(length))) }
        }
    }
}
