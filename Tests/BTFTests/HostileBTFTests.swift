import EBPFBTF
import EBPFELFFile
import Testing
import TestSupport

/// Hand-built blobs for every error, split BTF, every kind and kind_flag, and truncations and bit
/// flips of real sections. Nothing may trap.
@Suite("Hostile and hand-built BTF")
struct HostileBTFTests {
    /// A blob with one type of every kind, exercising each kind_flag meaning.
    static func everyKind() -> RawBTF {
        var raw = RawBTF()
        let int = raw.string("int")
        raw.type(name: int, kind: .int, sizeOrType: 4, [1 << 24 | 32])  // 1: signed int
        raw.type(kind: .pointer, sizeOrType: 1)  // 2
        raw.type(kind: .array, sizeOrType: 0, [1, 1, 10])  // 3: int[10]
        let s = raw.string("s"), a = raw.string("a"), b = raw.string("b")
        raw.type(name: s, kind: .struct, vlen: 2, kindFlag: true, sizeOrType: 8, [a, 1, 0, b, 1, 3 << 24 | 33])  // 4
        let u = raw.string("u")
        raw.type(name: u, kind: .union, vlen: 1, sizeOrType: 4, [a, 1, 0])  // 5
        let e = raw.string("e"), minus = raw.string("MINUS")
        raw.type(name: e, kind: .enum, vlen: 1, kindFlag: true, sizeOrType: 4, [minus, UInt32(bitPattern: -1)])  // 6
        let f = raw.string("f")
        raw.type(name: f, kind: .forward, kindFlag: true, sizeOrType: 0)  // 7: forward union
        let t = raw.string("t")
        raw.type(name: t, kind: .typedef, sizeOrType: 1)  // 8
        raw.type(kind: .volatile, sizeOrType: 1)  // 9
        raw.type(kind: .const, sizeOrType: 9)  // 10
        raw.type(kind: .restrict, sizeOrType: 2)  // 11
        let fn = raw.string("fn"), x = raw.string("x")
        raw.type(kind: .functionPrototype, vlen: 2, sizeOrType: 1, [x, 1, 0, 0])  // 12: int (int x, ...)
        raw.type(name: fn, kind: .function, vlen: 1, sizeOrType: 12)  // 13: global
        let v = raw.string("v")
        raw.type(name: v, kind: .variable, sizeOrType: 1, [2])  // 14: extern
        let data = raw.string(".data")
        raw.type(name: data, kind: .dataSection, vlen: 1, sizeOrType: 4, [14, 0, 4])  // 15
        let double = raw.string("double")
        raw.type(name: double, kind: .float, sizeOrType: 8)  // 16
        let tag = raw.string("tag")
        raw.type(name: tag, kind: .declarationTag, sizeOrType: 4, [1])  // 17: on member b
        raw.type(name: tag, kind: .typeTag, kindFlag: true, sizeOrType: 1)  // 18
        let e64 = raw.string("e64"), big = raw.string("BIG")
        raw.type(name: e64, kind: .enum64, vlen: 1, sizeOrType: 8, [big, 0x89AB_CDEF, 0x0123_4567])  // 19
        return raw
    }

    @Test(arguments: [false, true])
    func everyKindDecodes(bigEndian: Bool) throws {
        let spec = try BTFSpec(bytes: Self.everyKind().blob(bigEndian: bigEndian))
        #expect(spec.byteOrder == (bigEndian ? .bigEndian : .littleEndian))
        let graph = try spec.typeGraph()
        let expected: [BTFType] = [
            .void,
            .int(BTFInt(name: "int", size: 4, encoding: .signed, bits: 32)),
            .pointer(BTFPointer(target: 1)),
            .array(BTFArray(elementType: 1, indexType: 1, count: 10)),
            .struct(BTFComposite(name: "s", size: 8, members: [
                BTFMember(name: "a", type: 1, bitOffset: 0),
                BTFMember(name: "b", type: 1, bitOffset: 33, bitfieldSize: 3),
            ])),
            .union(BTFComposite(name: "u", size: 4, members: [BTFMember(name: "a", type: 1, bitOffset: 0)])),
            .enum(BTFEnum(name: "e", size: 4, isSigned: true, values: [BTFEnumValue(name: "MINUS", value: UInt64.max)])),
            .forward(BTFForward(name: "f", isUnion: true)),
            .typedef(BTFTypedef(name: "t", type: 1)),
            .volatile(BTFQualifier(type: 1)),
            .const(BTFQualifier(type: 9)),
            .restrict(BTFQualifier(type: 2)),
            .functionPrototype(BTFFunctionPrototype(returnType: 1, parameters: [
                BTFParameter(name: "x", type: 1), BTFParameter(name: "", type: .void),
            ])),
            .function(BTFFunction(name: "fn", prototype: 12, linkage: .global)),
            .variable(BTFVariable(name: "v", type: 1, linkage: .extern)),
            .dataSection(BTFDataSection(name: ".data", size: 4, variables: [BTFVariableSectionInfo(type: 14, offset: 0, size: 4)])),
            .float(BTFFloat(name: "double", size: 8)),
            .declarationTag(BTFDeclarationTag(name: "tag", type: 4, componentIndex: 1)),
            .typeTag(BTFTypeTag(name: "tag", type: 1, isAttribute: true)),
            .enum64(BTFEnum(name: "e64", size: 8, isSigned: false, values: [BTFEnumValue(name: "BIG", value: 0x0123_4567_89AB_CDEF)])),
        ]
        #expect(graph.types == expected)
        guard case .functionPrototype(let prototype) = graph.types[12] else { return }
        #expect(prototype.isVariadic)
        #expect(try spec.size(of: 3) == 40)
        #expect(try spec.size(of: 10) == 4)
        #expect(try spec.underlyingTypeID(of: 10) == 1)
        #expect(spec.typeID(named: "f", kind: .forward) == 7)
        #expect(spec.typeIDs(named: "tag") == [17, 18])
        #expect(spec.typeIDs(named: "a") == [])
    }

    @Test(arguments: [false, true])
    func splitBTFContinuesIdsAndStrings(bigEndian: Bool) throws {
        let base = try BTFSpec(bytes: Self.everyKind().blob(bigEndian: bigEndian))
        var raw = RawBTF(splitOn: base)
        let name = raw.string("module_struct"), field = raw.string("field")
        let intName: UInt32 = 1  // "int" in the base's strings
        raw.type(name: name, kind: .struct, vlen: 2, sizeOrType: 16, [field, 19, 0, intName, 21, 64])  // 20
        raw.type(kind: .pointer, sizeOrType: 20)  // 21
        let split = try BTFSpec(bytes: raw.blob(bigEndian: bigEndian), base: base)
        #expect(split.firstTypeID == 20)
        #expect(split.typeCount == 22)
        #expect(split.ownTypeCount == 2)
        #expect(try split.type(1) == .int(BTFInt(name: "int", size: 4, encoding: .signed, bits: 32)))
        #expect(try split.type(20) == .struct(BTFComposite(name: "module_struct", size: 16, members: [
            BTFMember(name: "field", type: 19, bitOffset: 0), BTFMember(name: "int", type: 21, bitOffset: 64),
        ])))
        #expect(split.typeID(named: "module_struct", kind: .struct) == 20)
        #expect(split.typeID(named: "int", kind: .int) == 1)
        let graph = try split.typeGraph()
        #expect(graph.types.count == 22)
        #expect(graph.ownTypes.count == 2)
        #expect(throws: BTFError.noSuchType(22)) { try split.type(22) }
    }

    // MARK: - One blob per error

    @Test func truncatedTypeRecord() throws {
        var raw = RawBTF()
        raw.words = [0, UInt32(BTFKind.pointer.rawValue) << 24]  // 8 of 12 bytes
        #expect(throws: BTFError.truncatedType(id: 1, offset: 24, needed: 12, available: 8)) {
            try BTFSpec(bytes: raw.blob())
        }
        var int = RawBTF()
        int.type(kind: .int, sizeOrType: 4)  // the int's 4 trailing bytes are missing
        #expect(throws: BTFError.truncatedType(id: 1, offset: 24, needed: 16, available: 12)) {
            try BTFSpec(bytes: int.blob())
        }
    }

    @Test func absurdVlen() throws {
        var raw = RawBTF()
        raw.type(kind: .int, sizeOrType: 4, [32])
        raw.type(kind: .struct, vlen: 0xFFFF, sizeOrType: 4, [0, 1, 0])
        #expect(throws: BTFError.badVlen(id: 2, offset: 40, kind: .struct, vlen: 0xFFFF)) {
            try BTFSpec(bytes: raw.blob(bigEndian: true))
        }
        var pointer = RawBTF()
        pointer.type(kind: .pointer, vlen: 3, sizeOrType: 0)
        #expect(throws: BTFError.badVlen(id: 1, offset: 24, kind: .pointer, vlen: 3)) {
            try BTFSpec(bytes: pointer.blob())
        }
        var function = RawBTF()
        function.type(kind: .function, vlen: 3, sizeOrType: 0)
        #expect(throws: BTFError.badVlen(id: 1, offset: 24, kind: .function, vlen: 3)) {
            try BTFSpec(bytes: function.blob())
        }
    }

    @Test func unknownKind() throws {
        var raw = RawBTF()
        raw.type(kind: .int, sizeOrType: 4, [32])
        raw.type(kind: BTFKind(rawValue: 25), sizeOrType: 0)
        #expect(throws: BTFError.unknownKind(id: 2, offset: 40, kind: 25)) { try BTFSpec(bytes: raw.blob()) }
    }

    @Test func stringOffsetsPastTheEnd() throws {
        var raw = RawBTF()
        raw.type(name: 1000, kind: .int, sizeOrType: 4, [32])
        #expect(throws: BTFError.stringOffsetOutOfRange(id: 1, offset: 24, stringOffset: 1000, stringSectionLength: 1)) {
            try BTFSpec(bytes: raw.blob())
        }
        // A member's name is checked when the type is decoded.
        var member = RawBTF()
        member.type(kind: .int, sizeOrType: 4, [32])
        member.type(kind: .struct, vlen: 1, sizeOrType: 4, [77, 1, 0])
        let spec = try BTFSpec(bytes: member.blob())
        #expect(throws: BTFError.stringOffsetOutOfRange(id: 2, offset: 52, stringOffset: 77, stringSectionLength: 1)) {
            try spec.type(2)
        }
        #expect(throws: BTFError.stringOffsetOutOfRange(id: 2, offset: 52, stringOffset: 77, stringSectionLength: 1)) {
            try spec.typeGraph()
        }
    }

    @Test func typeIDsOutOfRange() throws {
        var raw = RawBTF()
        raw.type(kind: .pointer, sizeOrType: 5)
        let spec = try BTFSpec(bytes: raw.blob())
        #expect(throws: BTFError.typeIDOutOfRange(id: 1, offset: 32, referenced: 5, typeCount: 2)) { try spec.type(1) }
        #expect(throws: BTFError.noSuchType(2)) { try spec.type(2) }
        #expect(throws: BTFError.noSuchType(9)) { try spec.kindAndVlen(of: 9) }
        var array = RawBTF()
        array.type(kind: .array, sizeOrType: 0, [0, 0xFFFF_FFFF, 1])
        #expect(throws: BTFError.typeIDOutOfRange(id: 1, offset: 40, referenced: 0xFFFF_FFFF, typeCount: 2)) {
            try BTFSpec(bytes: array.blob()).typeGraph()
        }
    }

    @Test(arguments: [false, true])
    func cyclesAreErrors(bigEndian: Bool) throws {
        // typedef a -> const -> volatile -> typedef a
        var chain = RawBTF()
        let a = chain.string("a")
        chain.type(name: a, kind: .typedef, sizeOrType: 2)
        chain.type(kind: .const, sizeOrType: 3)
        chain.type(kind: .volatile, sizeOrType: 1)
        let spec = try BTFSpec(bytes: chain.blob(bigEndian: bigEndian))
        #expect(throws: BTFError.referenceCycle(id: 1, offset: 24)) { try spec.typeGraph() }
        #expect(throws: BTFError.referenceCycle(id: 1, offset: 24)) { try spec.underlyingTypeID(of: 1) }
        #expect(throws: BTFError.referenceCycle(id: 2, offset: 36)) { try spec.size(of: 2) }
        // A struct that contains itself by value, through an array.
        var contains = RawBTF()
        contains.type(kind: .struct, vlen: 1, sizeOrType: 8, [0, 2, 0])
        contains.type(kind: .array, sizeOrType: 0, [1, 1, 2])
        #expect(throws: BTFError.referenceCycle(id: 1, offset: 24)) {
            try BTFSpec(bytes: contains.blob(bigEndian: bigEndian)).typeGraph()
        }
        // A pointer breaks the cycle: a linked list is fine.
        var list = RawBTF()
        let node = list.string("node"), next = list.string("next")
        list.type(name: node, kind: .struct, vlen: 1, sizeOrType: 8, [next, 2, 0])
        list.type(kind: .pointer, sizeOrType: 1)
        let listSpec = try BTFSpec(bytes: list.blob(bigEndian: bigEndian))
        #expect(try listSpec.typeGraph().types.count == 3)
        #expect(try listSpec.size(of: 1) == 8)
    }

    @Test func invalidFields() throws {
        var wide = RawBTF()
        wide.type(kind: .int, sizeOrType: 4, [33])
        #expect(throws: BTFError.invalidType(id: 1, offset: 36, reason: "int of 4 bytes with 33 bits at bit 0")) {
            try BTFSpec(bytes: wide.blob()).type(1)
        }
        var variable = RawBTF()
        variable.type(kind: .int, sizeOrType: 4, [32])
        variable.type(kind: .variable, sizeOrType: 1, [7])
        #expect(throws: BTFError.invalidType(id: 2, offset: 52, reason: "variable linkage 7")) {
            try BTFSpec(bytes: variable.blob()).type(2)
        }
        var tag = RawBTF()
        tag.type(kind: .int, sizeOrType: 4, [32])
        tag.type(kind: .declarationTag, sizeOrType: 1, [UInt32(bitPattern: -2)])
        #expect(throws: BTFError.invalidType(id: 2, offset: 52, reason: "declaration tag component index -2")) {
            try BTFSpec(bytes: tag.blob()).type(2)
        }
    }

    @Test func malformedHeaderAndStrings() throws {
        var raw = RawBTF()
        raw.type(kind: .int, sizeOrType: 4, [32])
        var noLeadingNul = raw.blob()
        noLeadingNul[noLeadingNul.count - 1] = 0x41
        #expect(throws: BTFError.malformedStringSection(offset: 40, length: 1)) { try BTFSpec(bytes: noLeadingNul) }
        var unterminated = RawBTF()
        unterminated.strings = [0, 0x41]
        #expect(throws: BTFError.malformedStringSection(offset: 24, length: 2)) { try BTFSpec(bytes: unterminated.blob()) }
        #expect(throws: BTFError.truncatedHeader(available: 10, needed: 24)) {
            try BTFSpec(bytes: Array(raw.blob().prefix(10)))
        }
    }

    // MARK: - Mutations of real sections

    static func objectSections() throws -> [[UInt8]] {
        var result: [[UInt8]] = []
        for name in ["maps_btf-el.o", "globals-eb.o", "subprog-el.o"] {
            let file = try ELFFile(path: TestData.path(name))
            let section = try #require(file.section(named: ".BTF"))
            result.append(Array(try file.contents(of: section)))
        }
        return result
    }

    /// Parses and fully decodes `bytes`; any outcome but a trap is acceptable.
    static func exercise(_ bytes: [UInt8]) -> Bool {
        do {
            let spec = try BTFSpec(bytes: bytes)
            _ = spec.typeID(named: "event", kind: .struct)
            _ = spec.typeIDs(named: "int")
            _ = try spec.typeGraph()
            for id in 0..<spec.typeCount {
                _ = try spec.size(of: BTFTypeID(id))
            }
            return true
        } catch {
            return false
        }
    }

    @Test func everyTruncationIsAnErrorOrParses() throws {
        for section in try Self.objectSections() {
            var failures = 0
            for length in 0..<section.count {
                if !Self.exercise(Array(section.prefix(length))) { failures += 1 }
            }
            // Cutting the string section's final NUL or any type record must fail.
            #expect(failures == section.count)
            #expect(Self.exercise(section))
        }
    }

    @Test func bitFlipsNeverTrap() throws {
        var generator = SplitMix(seed: 0x5EED)
        for section in try Self.objectSections() {
            for _ in 0..<3000 {
                var mutated = section
                for _ in 0..<Int(generator.next() % 4 + 1) {
                    let index = Int(generator.next() % UInt64(mutated.count))
                    mutated[index] ^= UInt8(1) << (generator.next() % 8)
                }
                _ = Self.exercise(mutated)
            }
        }
    }
}

/// A small deterministic generator, so a failing mutation can be reproduced.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
