@testable import EBPFCollection
import Testing

/// Inputs `fuzz-kconfig` and `fuzz-inflate` found or that sit on their edges: each is an error or
/// a value, never a trap.
@Suite("Kernel configuration parsing")
struct KernelConfigParsingTests {
    /// fuzz-kconfig's first crash: a signed integer extern of zero bytes computed `bits - 1` on an
    /// unsigned zero.
    @Test func zeroByteIntegerExternIsAFailureNotATrap() {
        for value in ["1", "-1", "0x10"] {
            guard case .failure = KernelConfig.encode(value, typeID: nil, size: 0, types: nil) else {
                Issue.record("'\(value)' encoded into zero bytes")
                continue
            }
        }
        #expect(throws: Never.self) { try KernelConfig.encode("7", typeID: nil, size: 4, types: nil).get() }
    }

    @Test func damagedGzipIsAnError() {
        // A gzip header, then a dynamic-Huffman block whose code lengths are all zero.
        let header: [UInt8] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]
        #expect(throws: InflateError.self) { try Inflate.gunzip(header + [0x05, 0, 0, 0, 0, 0, 0, 0, 0]) }
        #expect(throws: InflateError.notGzip) { try Inflate.gunzip([UInt8](repeating: 0, count: 20)) }
    }
}

/// `/sys/devices/system/cpu/possible` lists that are not lists, or count past `Int.max`.
@Suite("Possible CPU list parsing")
struct PossibleCPUListTests {
    @Test func listsAndRanges() {
        #expect(PossibleCPUs.parse("0-7\n") == 8)
        #expect(PossibleCPUs.parse("0,2-5") == 5)
        #expect(PossibleCPUs.parse("") == nil)
        #expect(PossibleCPUs.parse("3-1") == nil)
        #expect(PossibleCPUs.parse("0-") == nil)
    }

    /// `0-9223372036854775807` computed `last - first + 1` past `Int.max` ("arithmetic overflow").
    @Test func aRangeOfIntMaxCPUsIsMalformed() {
        #expect(PossibleCPUs.parse("0-9223372036854775807") == nil)
        #expect(PossibleCPUs.parse("1-9223372036854775807") == Int.max)
        #expect(PossibleCPUs.parse("1-9223372036854775807,0") == nil)
    }
}
