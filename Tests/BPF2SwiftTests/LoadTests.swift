import EBPF
import Glibc
import Testing
import TestSupport

@testable import BPF2SwiftGenerator

/// The code the plugin generated from bpf/layout.bpf.c for this target: it compiled (or this file
/// would not), it embeds the object, and as root it loads and works through the generated API.
@Suite("bpf2swift: the generated API", .serialized, .checksFileDescriptorLeaks)
struct LoadTests {
    @Test func theEmbeddedObjectIsTheCompiledOne() throws {
        let spec = try loadLayout()
        #expect(spec.byteOrder == .host)
        #expect(Set(spec.programs.keys) == ["count_packets"])
        #expect(LayoutObjects.programNames == ["count_packets"])
        #expect(LayoutObjects.mapNames == ["anonymous_values", "flows", "shape_store"])
        #expect(LayoutObjects.variableNames == ["flowCount", "flow_count", "last_padded", "packetCount_total", "packet_count", "packet_mark", "repeat"])

        // The same source compiled by hand gives the same spec.
        let directory = try BPF2SwiftTestSupport.temporaryDirectory()
        defer { BPF2SwiftTestSupport.cleanUp(directory) }
        let run = BPF2SwiftTestSupport.bpf2swift([
            "-output-dir", directory, "-object-dir", directory, "-target", "native", "Layout",
            BPF2SwiftTestSupport.bpfDirectory + "/layout.bpf.c",
        ])
        try #require(run.status == 0)
        let suffix = spec.byteOrder == .littleEndian ? "bpfel" : "bpfeb"
        #expect(try CollectionSpec(elfFile: directory + "/layout_\(suffix).o") == spec)
        // Stripped: no DWARF left, BTF kept.
        #expect(spec.types != nil)
        let object = try Files.read(directory + "/layout_\(suffix).o")
        #expect(!String(decoding: object, as: UTF8.self).contains(".debug_info"))
    }

    @Test(.enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
    func loadsAndRunsThroughTheGeneratedTypes() throws {
        let objects = try loadLayoutObjects()
        defer { try? objects.close() }

        var key = LayoutTypes.flow_key()
        key.pid = 7  // packet_mark
        var value = LayoutTypes.flow_value()
        value.count = 40
        value.last.s = -3
        value.tagged.value.wide = 0x0102_0304_0506_0708
        try objects.flows.update(key, value)

        var shapes = LayoutTypes.shapes()
        shapes.corners.1.y = 10
        shapes.header.length = 0xdead_beef
        try objects.shapeStore.update(UInt32(0), shapes)
        var anonymous = LayoutTypes.with_anonymous()
        anonymous.b = 5
        try objects.anonymousValues.update(UInt32(0), anonymous)

        let frame = [UInt8](repeating: 0, count: 64)
        for _ in 0..<2 { _ = try objects.countPackets.testRun(data: frame) }

        let counted: LayoutTypes.flow_value = try #require(try objects.flows.lookup(key))
        #expect(counted.count == 42)
        #expect(counted.last.s == -3 && counted.tagged.value.wide == 0x0102_0304_0506_0708)
        let stored: LayoutTypes.shapes = try #require(try objects.shapeStore.lookup(UInt32(0)))
        #expect(stored.corners.1.y == 12 && stored.header.length == 0xdead_beef)
        let anonymousStored: LayoutTypes.with_anonymous = try #require(try objects.anonymousValues.lookup(UInt32(0)))
        #expect(anonymousStored.b == 5 + 3 * 2)

        #expect(try objects.packetCount.get(as: UInt64.self) == 2)
        #expect(try objects.packetCountTotal.get(as: UInt64.self) == 2)
        #expect(try objects.flowCount.get(as: UInt32.self) == 4)
        #expect(try objects.flowCountVariable.get(as: UInt32.self) == 2)
        #expect(try objects.packetMark.get(as: UInt32.self) == 7)
        #expect(try objects.repeat.get(as: UInt32.self) == 3)
        let last: LayoutTypes.padded = try objects.lastPadded.get()
        #expect(last.c == 1 && last.wide == 2 && last.s == 7)
    }

    @Test(.enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
    func loadsASubsetThroughTheGroupTypes() throws {
        let maps = try LayoutMaps(loading: try loadLayout())
        defer { try? maps.close() }
        #expect(maps.flows.keySize == 20 && maps.flows.valueSize == UInt32(MemoryLayout<LayoutTypes.flow_value>.size))
        try maps.close()
        #expect(maps.flows.isClosed && maps.shapeStore.isClosed)
    }
}
