import EBPFBTF
import EBPFELFFile
import Testing
import TestSupport

/// Round trips from the type graph: decode, marshal from the graph, re-parse, compare type by type.
@Suite("BTF marshalling")
struct BTFMarshalTests {
    /// Records the first few types that differ, by id, rather than one unreadable array diff.
    static func expectSameTypes(
        _ actual: BTFTypeGraph, _ expected: BTFTypeGraph, _ what: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(actual.types.count == expected.types.count, "\(what): type count", sourceLocation: sourceLocation)
        #expect(actual.firstTypeID == expected.firstTypeID, sourceLocation: sourceLocation)
        var differences = 0
        for (index, (have, want)) in zip(actual.types, expected.types).enumerated() where have != want {
            differences += 1
            if differences <= 5 {
                Issue.record("\(what): type \(index) is \(have), expected \(want)", sourceLocation: sourceLocation)
            }
        }
        #expect(differences == 0, "\(what): \(differences) types differ", sourceLocation: sourceLocation)
    }

    static func objectBTF(_ name: String) throws -> ArraySlice<UInt8> {
        let file = try ELFFile(path: TestData.path(name))
        let section = try #require(file.section(named: ".BTF"), "\(name) has .BTF")
        return try file.contents(of: section)
    }

    @Test(arguments: [BTFByteOrder.littleEndian, .bigEndian])
    func vmlinuxRoundTripsThroughItsGraph(byteOrder: BTFByteOrder) throws {
        let spec = try BTFSpec(path: KernelBTFTests.vmlinux)
        let graph = try spec.typeGraph()
        let bytes = try spec.marshal(byteOrder: byteOrder)
        let reparsed = try BTFSpec(bytes: bytes)
        #expect(reparsed.byteOrder == byteOrder)
        #expect(reparsed.typeCount == spec.typeCount)
        Self.expectSameTypes(try reparsed.typeGraph(), graph, "vmlinux")
        // The string table is rebuilt, each string once, so it is no larger than the kernel's.
        #expect(reparsed.header.stringLength <= spec.header.stringLength)
        #expect(reparsed.header.typeLength == spec.header.typeLength)
    }

    @Test(arguments: TestData.objectNames())
    func objectBTFRoundTripsThroughItsGraph(name: String) throws {
        let spec = try BTFSpec(bytes: try Self.objectBTF(name))
        let graph = try spec.typeGraph()
        for byteOrder in [BTFByteOrder.littleEndian, .bigEndian] {
            let reparsed = try BTFSpec(bytes: try spec.marshal(byteOrder: byteOrder))
            Self.expectSameTypes(try reparsed.typeGraph(), graph, "\(name) \(byteOrder)")
            #expect(reparsed.byteOrder == byteOrder)
        }
        // Marshalling the same graph twice gives the same bytes.
        #expect(try graph.marshal() == (try spec.marshal()))
    }

    @Test func builderFromAGraphKeepsIds() throws {
        let spec = try BTFSpec(bytes: try Self.objectBTF("maps_btf-el.o"))
        let graph = try spec.typeGraph()
        let builder = try BTFBuilder(graph: graph)
        #expect(builder.nextTypeID.rawValue == spec.typeCount)
        #expect(builder.deduplicatesTypes == false)
        let eventID = try #require(spec.typeID(named: "event", kind: .struct))
        #expect(builder.type(eventID) == (try spec.type(eventID)))
    }

    /// The host kernel has no modules, so split BTF is built here: types on top of vmlinux that
    /// refer to vmlinux's types, parsed as split BTF, then marshalled again from the graph.
    @Test func splitBTFRoundTripsOnTopOfVmlinux() throws {
        let vmlinux = try BTFSpec(path: KernelBTFTests.vmlinux)
        let task = try #require(vmlinux.typeID(named: "task_struct", kind: .struct))
        var builder = BTFBuilder(base: vmlinux)
        let pointer = try builder.add(.pointer(BTFPointer(target: task)))
        try builder.add(.typedef(BTFTypedef(name: "task_pointer_t", type: pointer)))
        try builder.add(.typedef(BTFTypedef(name: "task_struct", type: task)))
        let split = try BTFSpec(bytes: try builder.bytes(), base: vmlinux)
        #expect(split.firstTypeID.rawValue == vmlinux.typeCount)
        let reparsed = try BTFSpec(bytes: try split.marshal(), base: vmlinux)
        #expect(reparsed.firstTypeID == split.firstTypeID)
        Self.expectSameTypes(try reparsed.typeGraph(), try split.typeGraph(), "split")
        #expect(reparsed.typeID(named: "task_pointer_t", kind: .typedef) == BTFTypeID(vmlinux.typeCount + 1))
    }
}
