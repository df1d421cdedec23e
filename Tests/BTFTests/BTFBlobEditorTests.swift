import EBPFBTF
import Testing
import TestSupport

/// The raw editor against the decoded graph: sanitising in place must give the same types under
/// the same ids as `BTFTypeGraph.sanitized(for:)`.
@Suite("BTF blob editor")
struct BTFBlobEditorTests {
    /// Nothing, everything, and everything but one feature.
    static let supportedSets: [BTFFeatures] =
        [[], .all] + BTFFeatures.all.elements.map { BTFFeatures.all.subtracting($0) }

    static func expectSameAsGraph(_ spec: BTFSpec, supported: BTFFeatures, _ comment: String) throws {
        var editor = BTFBlobEditor(spec)
        try editor.sanitize(for: supported)
        let edited = try BTFSpec(bytes: try editor.bytes())
        #expect(edited.byteOrder == .host)
        let expected = try spec.typeGraph().sanitized(for: supported)
        #expect(try edited.typeGraph().types == expected.types, "\(comment) supported \(supported)")
    }

    @Test(arguments: [BTFByteOrder.littleEndian, .bigEndian])
    func everyKindSanitisesLikeTheGraph(byteOrder: BTFByteOrder) throws {
        var builder = BTFBuilder(deduplicatingTypes: false)
        for type in BTFBuilderTests.everyKind { try builder.add(type) }
        let spec = try BTFSpec(bytes: try builder.bytes(byteOrder: byteOrder))
        for supported in Self.supportedSets {
            try Self.expectSameAsGraph(spec, supported: supported, "every kind \(byteOrder)")
        }
    }

    @Test(arguments: TestData.objectNames().filter { $0.hasSuffix(".o") })
    func objectSanitisesLikeTheGraph(name: String) throws {
        let bytes = try BTFMarshalTests.objectBTF(name)
        let spec = try BTFSpec(bytes: bytes)
        for supported in Self.supportedSets {
            try Self.expectSameAsGraph(spec, supported: supported, name)
        }
    }

    @Test func unchangedSpecWritesItsOwnRecordsAndStrings() throws {
        let bytes = try BTFMarshalTests.objectBTF("collection-el.o")
        let spec = try BTFSpec(bytes: bytes)
        let editor = BTFBlobEditor(spec)
        #expect(editor.requiredFeatures == BTFFeatures(requiredBy: try spec.typeGraph()))
        let written = try editor.bytes()
        // The object's header is the kernel's 24 bytes with the types first, so the blob is a copy.
        #expect(written == Array(bytes))
    }

    @Test func addedStringsComeAfterTheSpecsAndOnce() throws {
        var builder = BTFBuilder()
        try builder.add(.int(BTFInt(name: "int", size: 4, encoding: .signed, bits: 32)))
        let spec = try BTFSpec(bytes: try builder.bytes())
        var editor = BTFBlobEditor(spec)
        let first = try editor.addString("added")
        #expect(first == spec.header.stringLength)
        #expect(try editor.addString("added") == first)
        #expect(try editor.addString("") == 0)
        #expect(editor.string(at: first) == "added")
        #expect(throws: BTFMarshalError.self) { _ = try editor.addString("a\0b") }
        let id = try editor.appendRecord(nameOffset: first, kind: .typedef, sizeOrType: 1)
        #expect(id == 2)
        #expect(editor.word(5, of: id) == nil)
        let changed = editor.setWord(0, 3, of: id)
        #expect(!changed)
        let reparsed = try BTFSpec(bytes: try editor.bytes())
        #expect(try reparsed.type(2) == .typedef(BTFTypedef(name: "added", type: 1)))
    }
}
