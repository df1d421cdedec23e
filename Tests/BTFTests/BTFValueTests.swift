import EBPFBTF
import Testing
import TestSupport

/// Decoding bytes through the types of testdata/introspect.c, in both byte orders.
@Suite("BTF values")
struct BTFValueTests {
    static func spec(_ order: String) throws -> BTFSpec {
        try KernelBTF.loadELF(path: TestData.path("introspect-\(order).o"))
    }

    /// `struct flow_value` with state 2, label "web", counters 5/1500, priority 9, marked 1, delta -3.
    static func flowValue(bigEndian: Bool) -> [UInt8] {
        func word<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
            withUnsafeBytes(of: bigEndian ? value.bigEndian : value.littleEndian) { Array($0) }
        }
        // Bitfields: little-endian counts bits from the low end of the word, big-endian from the high end.
        let bits: UInt32 = bigEndian ? (9 << 28 | 1 << 27) : (9 | 1 << 4)
        return word(UInt32(2)) + Array("web".utf8) + [0, 0, 0, 0, 0] + [0, 0, 0, 0] + word(UInt64(5)) + word(UInt64(1500))
            + word(bits) + word(Int32(-3))
    }

    @Test("a struct with an enum, a string, a nested struct and bitfields", arguments: ["el", "eb"])
    func decodesAStruct(order: String) throws {
        let spec = try Self.spec(order)
        let id = try #require(spec.typeID(named: "flow_value", kind: .struct))
        let value = try spec.value(of: id, in: Self.flowValue(bigEndian: order == "eb"))
        #expect(
            value
                == .members([
                    BTFNamedValue(name: "state", value: .enumerator(name: "FLOW_OPEN", value: 2)),
                    BTFNamedValue(name: "label", value: .string("web")),
                    BTFNamedValue(
                        name: "counters",
                        value: .members([
                            BTFNamedValue(name: "packets", value: .unsigned(5)), BTFNamedValue(name: "bytes", value: .unsigned(1500)),
                        ])),
                    BTFNamedValue(name: "priority", value: .unsigned(9)),
                    BTFNamedValue(name: "marked", value: .unsigned(1)),
                    BTFNamedValue(name: "delta", value: .signed(-3)),
                ]))
        #expect(
            value.json
                == #"{"state":"FLOW_OPEN","label":"web","counters":{"packets":5,"bytes":1500},"priority":9,"marked":1,"delta":-3}"#)
    }

    @Test func shortBytesAreATypedError() throws {
        let spec = try Self.spec("el")
        let id = try #require(spec.typeID(named: "flow_value", kind: .struct))
        #expect(throws: BTFError.self) { try spec.value(of: id, in: [1, 2, 3]) }
        for count in 0..<40 {
            #expect(throws: BTFError.self) { try spec.value(of: id, in: Array(Self.flowValue(bigEndian: false).prefix(count))) }
        }
    }
}
