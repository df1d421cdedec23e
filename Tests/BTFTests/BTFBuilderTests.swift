import EBPFBTF
import Testing
import TestSupport

/// Building BTF in Swift: ids, string and type deduplication, every kind through the wire format
/// in both byte orders, and the errors for what the wire format cannot hold.
@Suite("BTF builder")
struct BTFBuilderTests {
    static let int = BTFType.int(BTFInt(name: "int", size: 4, encoding: .signed, bits: 32))

    /// One type of every kind, referring to each other by the ids they get in order.
    static let everyKind: [BTFType] = [
        int,  // 1
        .pointer(BTFPointer(target: 1)),  // 2
        .array(BTFArray(elementType: 1, indexType: 1, count: 16)),  // 3
        .struct(
            BTFComposite(
                name: "packet", size: 16,
                members: [
                    BTFMember(name: "length", type: 1, bitOffset: 0),
                    BTFMember(name: "flags", type: 1, bitOffset: 32, bitfieldSize: 3),
                    BTFMember(name: "next", type: 2, bitOffset: 64),
                ])),  // 4
        .union(BTFComposite(name: "", size: 4, members: [BTFMember(name: "raw", type: 1, bitOffset: 0)])),  // 5
        .enum(
            BTFEnum(
                name: "signed_state", size: 4, isSigned: true,
                values: [BTFEnumValue(name: "NEGATIVE", value: UInt64(bitPattern: -5)), BTFEnumValue(name: "ZERO", value: 0)]
            )),  // 6
        .enum64(
            BTFEnum(
                name: "wide", size: 8, isSigned: false, values: [BTFEnumValue(name: "HUGE", value: 0xDEAD_BEEF_0000_0001)])),  // 7
        .forward(BTFForward(name: "opaque", isUnion: true)),  // 8
        .typedef(BTFTypedef(name: "packet_t", type: 4)),  // 9
        .volatile(BTFQualifier(type: 1)),  // 10
        .const(BTFQualifier(type: 10)),  // 11
        .restrict(BTFQualifier(type: 2)),  // 12
        .typeTag(BTFTypeTag(name: "user", type: 1)),  // 13
        .functionPrototype(
            BTFFunctionPrototype(
                returnType: 1, parameters: [BTFParameter(name: "ctx", type: 2), BTFParameter(name: "", type: .void)])),  // 14
        .function(BTFFunction(name: "handle", prototype: 14, linkage: .global)),  // 15
        .variable(BTFVariable(name: "counter", type: 1, linkage: .global)),  // 16
        .dataSection(
            BTFDataSection(name: ".data", size: 4, variables: [BTFVariableSectionInfo(type: 16, offset: 0, size: 4)])),  // 17
        .float(BTFFloat(name: "double", size: 8)),  // 18
        .declarationTag(BTFDeclarationTag(name: "noinline", type: 15, componentIndex: -1)),  // 19
        .declarationTag(BTFDeclarationTag(name: "arg", type: 15, componentIndex: 0, isAttribute: true)),  // 20
        .typeTag(BTFTypeTag(name: "rcu", type: 1, isAttribute: true)),  // 21
    ]

    @Test(arguments: [BTFByteOrder.littleEndian, .bigEndian])
    func everyKindSurvivesTheWireFormat(byteOrder: BTFByteOrder) throws {
        var builder = BTFBuilder(deduplicatingTypes: false)
        for (index, type) in Self.everyKind.enumerated() {
            #expect(try builder.add(type) == BTFTypeID(UInt32(index + 1)))
        }
        let spec = try BTFSpec(bytes: try builder.bytes(byteOrder: byteOrder))
        #expect(spec.byteOrder == byteOrder)
        #expect(try spec.typeGraph().types == [.void] + Self.everyKind)
        #expect(builder.types == Self.everyKind)
        #expect(builder.type(4) == Self.everyKind[3])
        #expect(builder.type(0) == nil)
        #expect(builder.type(BTFTypeID(UInt32(Self.everyKind.count + 1))) == nil)
    }

    @Test func byteOrdersDifferOnlyInWordOrder() throws {
        var builder = BTFBuilder()
        for type in Self.everyKind { try builder.add(type) }
        let little = try builder.bytes(byteOrder: .littleEndian)
        let big = try builder.bytes(byteOrder: .bigEndian)
        #expect(little.count == big.count)
        #expect(little[0...1] == [0x9F, 0xEB])
        #expect(big[0...1] == [0xEB, 0x9F])
        let header = try BTFHeader(parsing: little)
        let typeEnd = 24 + Int(header.typeLength)
        // The type section is words; the string section is bytes in either order.
        for offset in stride(from: 4, to: typeEnd, by: 4) {
            #expect(Array(little[offset..<offset + 4]) == Array(big[offset..<offset + 4].reversed()))
        }
        #expect(little[typeEnd...] == big[typeEnd...])
    }

    @Test func stringsAreStoredOnce() throws {
        var builder = BTFBuilder(deduplicatingTypes: false)
        let int = try builder.add(Self.int)
        try builder.add(.typedef(BTFTypedef(name: "int", type: int)))
        try builder.add(.struct(BTFComposite(name: "int", size: 4, members: [BTFMember(name: "int", type: int, bitOffset: 0)])))
        #expect(try builder.addString("int") == 1)
        #expect(try builder.addString("") == 0)
        let header = try BTFHeader(parsing: try builder.bytes())
        #expect(header.stringLength == 5)  // "\0int\0"
    }

    @Test func equalTypesAreMergedWhenTheyReferToExistingTypes() throws {
        var builder = BTFBuilder()
        let int = try builder.add(Self.int)
        #expect(try builder.add(Self.int) == int)
        let pointer = try builder.add(.pointer(BTFPointer(target: int)))
        #expect(try builder.add(.pointer(BTFPointer(target: int))) == pointer)
        #expect(try builder.add(.const(BTFQualifier(type: pointer))) == 3)
        #expect(try builder.add(.const(BTFQualifier(type: pointer))) == 3)

        // A list node points to itself: its reference is to an id not added yet, so it is not
        // merged with an equal record.
        let nodeID = builder.nextTypeID
        let selfPointer = BTFType.pointer(BTFPointer(target: BTFTypeID(nodeID.rawValue + 1)))
        #expect(try builder.add(selfPointer) == nodeID)
        #expect(
            try builder.add(
                .struct(BTFComposite(name: "node", size: 8, members: [BTFMember(name: "next", type: nodeID, bitOffset: 0)])))
                == BTFTypeID(nodeID.rawValue + 1))
        #expect(try builder.add(selfPointer) == BTFTypeID(nodeID.rawValue + 2))

        // Two variables of the same name and type are two objects.
        let variable = BTFType.variable(BTFVariable(name: "x", type: int, linkage: .static))
        let first = try builder.add(variable)
        #expect(try builder.add(variable) != first)
        #expect(try BTFSpec(bytes: try builder.bytes()).typeCount == builder.nextTypeID.rawValue)
    }

    @Test func deduplicationCanBeTurnedOff() throws {
        var builder = BTFBuilder(deduplicatingTypes: false)
        #expect(try builder.add(Self.int) == 1)
        #expect(try builder.add(Self.int) == 2)
        #expect(try builder.add(.void) == .void)
        #expect(builder.nextTypeID == 3)
    }

    @Test func whatTheWireFormatCannotHoldIsATypedError() throws {
        var builder = BTFBuilder()
        let int = try builder.add(Self.int)
        let wide = BTFType.enum(
            BTFEnum(name: "e", size: 4, isSigned: false, values: [BTFEnumValue(name: "BIG", value: 1 << 32)]))
        #expect(throws: BTFMarshalError.enumValueOutOfRange(id: 2, name: "BIG", value: 1 << 32)) {
            try builder.add(wide)
        }
        let negative = BTFType.enum(
            BTFEnum(
                name: "e", size: 4, isSigned: true, values: [BTFEnumValue(name: "LOW", value: UInt64(bitPattern: -(1 << 31) - 1))]))
        #expect(throws: BTFMarshalError.enumValueOutOfRange(id: 2, name: "LOW", value: UInt64(bitPattern: -(1 << 31) - 1))) {
            try builder.add(negative)
        }
        let members = (0..<65_536).map { BTFMember(name: "", type: int, bitOffset: UInt32($0) * 32) }
        #expect(throws: BTFMarshalError.tooManyComponents(id: 2, kind: .struct, count: 65_536)) {
            try builder.add(.struct(BTFComposite(name: "big", size: 65_536 * 4, members: members)))
        }
        #expect(throws: BTFMarshalError.stringContainsNUL(id: 2, string: "a\0b")) {
            try builder.add(.typedef(BTFTypedef(name: "a\0b", type: int)))
        }
        let farBitfield = BTFType.struct(
            BTFComposite(
                name: "s", size: 4,
                members: [BTFMember(name: "f", type: int, bitOffset: 1 << 24, bitfieldSize: 1)]))
        #expect(throws: BTFMarshalError.memberOffsetOutOfRange(id: 2, member: "f", bitOffset: 1 << 24)) {
            try builder.add(farBitfield)
        }
        #expect(throws: BTFMarshalError.invalidComponentIndex(id: 2, index: -2)) {
            try builder.add(.declarationTag(BTFDeclarationTag(name: "t", type: int, componentIndex: -2)))
        }
        // Nothing of the failed adds remains.
        #expect(builder.nextTypeID == 2)
        #expect(try BTFSpec(bytes: try builder.bytes()).typeGraph().types == [.void, Self.int])

        try builder.add(.pointer(BTFPointer(target: 9)))
        #expect(throws: BTFMarshalError.typeIDOutOfRange(id: 2, referenced: 9, typeCount: 3)) {
            try builder.bytes()
        }
    }

    @Test func splitBuilderContinuesItsBase() throws {
        var baseBuilder = BTFBuilder()
        let int = try baseBuilder.add(Self.int)
        let base = try BTFSpec(bytes: try baseBuilder.bytes())
        var split = BTFBuilder(base: base)
        #expect(split.firstTypeID == 2)
        let pointer = try split.add(.pointer(BTFPointer(target: int)))
        #expect(pointer == 2)
        try split.add(.typedef(BTFTypedef(name: "int_pointer", type: pointer)))
        let spec = try BTFSpec(bytes: try split.bytes(), base: base)
        #expect(try spec.type(3) == .typedef(BTFTypedef(name: "int_pointer", type: 2)))
        #expect(try spec.type(1) == Self.int)
        #expect(spec.typeID(named: "int_pointer", kind: .typedef) == 3)
    }
}
