import EBPFBTF
import EBPFCollection
import EBPFELF
import Testing
import TestSupport

/// Tier 1: the loader's in-place fix-ups of an object's BTF give the same types under the same ids
/// as the fix-ups on the decoded graph, sanitised or not, for every testdata object.
@Suite("Object BTF fixed up in place")
struct KernelBTFFixUpTests {
    /// Every object the object reader reads (``TestData/refusedObjectStems`` are refused on purpose).
    static let objects = TestData.readableObjectNames()

    @Test(arguments: objects)
    func fixUpInPlaceMatchesTheGraph(name: String) throws {
        let spec = try CollectionSpec(elfFile: TestData.path(name))
        let types = try #require(spec.types, "\(name) has BTF")
        let fixedGraph = spec.fixedUpForKernel(try types.typeGraph())
        var editor = BTFBlobEditor(types)
        try spec.fixUpForKernel(&editor)
        #expect(editor.requiredFeatures == BTFFeatures(requiredBy: fixedGraph), "\(name)")
        let supportedSets: [BTFFeatures] = [[], .all] + BTFFeatures.all.elements.map { BTFFeatures.all.subtracting($0) }
        for supported in supportedSets {
            var sanitized = editor
            try sanitized.sanitize(for: supported)
            let edited = try BTFSpec(bytes: try sanitized.bytes())
            let expected = fixedGraph.sanitized(for: supported)
            #expect(try edited.typeGraph().types == expected.types, "\(name) supported \(supported)")
        }
    }

    @Test func lineInfoStringsKeepTheirObjectOffsets() throws {
        let spec = try CollectionSpec(elfFile: TestData.path("collection-el.o"))
        let types = try #require(spec.types)
        var editor = BTFBlobEditor(types)
        try spec.fixUpForKernel(&editor)
        let edited = try BTFSpec(bytes: try editor.bytes())
        var checked = 0
        for program in spec.programs.values {
            for info in program.lineInfos {
                let offsets = try #require(info.stringOffsets(in: types))
                #expect(edited.string(at: offsets.fileName) == info.fileName)
                #expect(edited.string(at: offsets.line) == info.line)
                checked += 1
            }
        }
        #expect(checked > 0)
    }
}
