import EBPFBTF
import EBPFELFFile
import Testing
import TestSupport

/// The `.BTF` and `.BTF.ext` sections of the committed testdata objects, in both byte orders.
@Suite("Object BTF")
struct ObjectBTFTests {
    static let names = ["globals", "isa_v3", "isa_v4", "loops", "maps_btf", "maps_legacy", "minimal", "subprog"]

    static func sections(_ name: String, _ suffix: String) throws -> (btf: ArraySlice<UInt8>, ext: ArraySlice<UInt8>?) {
        let file = try ELFFile(path: TestData.path("\(name)-\(suffix).o"))
        let btf = try #require(file.section(named: ".BTF"), "\(name)-\(suffix).o has .BTF")
        let ext = try file.section(named: ".BTF.ext").map { section throws in try file.contents(of: section) }
        return (try file.contents(of: btf), ext)
    }

    @Test(arguments: names)
    func bothByteOrdersGiveEqualGraphs(name: String) throws {
        let little = try Self.sections(name, "el")
        let big = try Self.sections(name, "eb")
        let littleSpec = try BTFSpec(bytes: little.btf)
        let bigSpec = try BTFSpec(bytes: big.btf)
        #expect(littleSpec.byteOrder == .littleEndian)
        #expect(bigSpec.byteOrder == .bigEndian)
        let littleGraph = try littleSpec.typeGraph()
        #expect(littleGraph.types.count > 1)
        #expect(try bigSpec.typeGraph() == littleGraph)

        #expect((little.ext == nil) == (big.ext == nil))
        if let littleExt = little.ext, let bigExt = big.ext {
            let parsedLittle = try BTFExt(bytes: littleExt, spec: littleSpec)
            let parsedBig = try BTFExt(bytes: bigExt, spec: bigSpec)
            #expect(parsedLittle.byteOrder == .littleEndian)
            #expect(parsedBig.byteOrder == .bigEndian)
            #expect(parsedLittle.funcInfos == parsedBig.funcInfos)
            #expect(parsedLittle.lineInfos == parsedBig.lineInfos)
            #expect(parsedLittle.coreRelocations == parsedBig.coreRelocations)
            #expect(!parsedLittle.funcInfos.isEmpty)
            for (_, infos) in parsedLittle.funcInfos {
                for info in infos {
                    guard case .function = try littleSpec.type(info.type) else {
                        Issue.record("func_info of \(name) names type \(info.type), not a function")
                        continue
                    }
                }
            }
        }
    }

    @Test func mapsObjectDescribesItsTypes() throws {
        let spec = try BTFSpec(bytes: try Self.sections("maps_btf", "el").btf)
        let eventID = try #require(spec.typeID(named: "event", kind: .struct))
        guard case .struct(let event) = try spec.type(eventID) else {
            Issue.record("event is not a struct")
            return
        }
        #expect(event.members.map(\.name) == ["pid", "timestamp", "comm"])
        #expect(event.members.map(\.bitOffset) == [0, 64, 128])
        #expect(event.size == 32)
        guard case .array(let comm) = try spec.type(event.members[2].type) else {
            Issue.record("comm is not an array")
            return
        }
        #expect(comm.count == 16)
        let maps = try #require(spec.typeID(named: ".maps", kind: .dataSection))
        guard case .dataSection(let section) = try spec.type(maps) else {
            Issue.record(".maps is not a datasec")
            return
        }
        var names: [String] = []
        for variable in section.variables { names.append(try spec.name(of: variable.type)) }
        #expect(names.contains("start_times"))
        #expect(names.contains("last_events"))
    }

    @Test func globalsObjectHasDataSectionsAndLineInfo() throws {
        let (btf, ext) = try Self.sections("globals", "el")
        let spec = try BTFSpec(bytes: btf)
        for name in [".rodata", ".bss", ".data", ".data.custom"] {
            #expect(spec.typeID(named: name, kind: .dataSection) != nil, "\(name)")
        }
        let variable = try #require(spec.typeID(named: "target_pid", kind: .variable))
        guard case .variable(let targetPID) = try spec.type(variable) else {
            Issue.record("target_pid is not a variable")
            return
        }
        #expect(targetPID.linkage == .global)
        guard case .const = try spec.type(targetPID.type) else {
            Issue.record("target_pid is not const")
            return
        }
        let parsed = try BTFExt(bytes: try #require(ext), spec: spec)
        let lines = try #require(parsed.lineInfos["socket"])
        // The objects are built with a fixed compilation directory, so clang records no line text.
        #expect(lines.first == BTFLineInfo(
            instructionOffset: 0, fileName: "testdata/globals.c", line: "", lineNumber: 18, column: 14))
        let functions = try #require(parsed.funcInfos["socket"])
        #expect(functions.first?.instructionOffset == 0)
        #expect(try spec.name(of: try #require(functions.first).type) == "count_packets")
    }
}
