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

/// Hand-built BTF whose layout the decoder accepts but whose values cannot exist: reading bytes
/// through it used to trap.
@Suite("BTF values through hostile types")
struct HostileBTFValueTests {
    /// A member offset past the struct's bytes sliced beyond the end of the value ("Range out of bounds").
    @Test func memberOffsetPastTheValueIsAnError() throws {
        var raw = RawBTF()
        let int = raw.string("int"), s = raw.string("s"), far = raw.string("far")
        raw.type(name: int, kind: .int, sizeOrType: 4, [1 << 24 | 32])  // 1
        raw.type(name: s, kind: .struct, vlen: 1, sizeOrType: 4, [far, 1, 800])  // 2: member at byte 100 of 4
        let spec = try BTFSpec(bytes: raw.blob())
        #expect {
            try spec.value(of: 2, in: [1, 2, 3, 4])
        } throws: { error in
            guard case BTFError.invalidType(id: 2, _, let reason) = error else { return false }
            return reason.contains("'far' at byte 100")
        }
    }

    /// A 64 MiB struct without members printed 8 Mi lines of `long: 64;` (a struct size near 2^32,
    /// one bit flip away, printed gigabytes); a gap wider than 16 MiB is an error now.
    @Test func paddingTooWideToPrintIsAnError() throws {
        var raw = RawBTF()
        let big = raw.string("big"), small = raw.string("small"), int = raw.string("int"), a = raw.string("a")
        raw.type(name: big, kind: .struct, vlen: 0, sizeOrType: 64 << 20)  // 1
        raw.type(name: int, kind: .int, sizeOrType: 4, [1 << 24 | 32])  // 2
        raw.type(name: small, kind: .struct, vlen: 1, sizeOrType: 4, [a, 2, 0])  // 3
        let spec = try BTFSpec(bytes: raw.blob())
        #expect {
            try spec.cDeclarations(of: [1])
        } throws: { error in
            guard case BTFError.invalidType(id: 1, _, let reason) = error else { return false }
            return reason.contains("too wide to print")
        }
        #expect(try spec.cDeclarations(of: [3]).contains("int a;"))
    }

    /// An array of 2^32-1 structs of 2^32-1 bytes: count times size passes Int.max ("arithmetic
    /// overflow" in the size computation).
    @Test func elementSizeOverflowIsAnError() throws {
        var raw = RawBTF()
        let int = raw.string("int"), s = raw.string("huge")
        raw.type(name: int, kind: .int, sizeOrType: 4, [1 << 24 | 32])  // 1
        raw.type(name: s, kind: .struct, vlen: 0, sizeOrType: 0xFFFF_FFFF)  // 2
        raw.type(kind: .array, sizeOrType: 0, [2, 1, 0xFFFF_FFFF])  // 3: huge[2^32-1]
        raw.type(kind: .array, sizeOrType: 0, [3, 1, 2])  // 4: huge[2][2^32-1]
        let spec = try BTFSpec(bytes: raw.blob())
        #expect(throws: BTFError.invalidType(id: 3, offset: 0, reason: "array too large")) {
            try spec.value(of: 4, in: [0, 0, 0, 0])
        }
    }
}
