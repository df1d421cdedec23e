import EBPFBTF
import EBPFELFFile
import Synchronization
import Testing
import TestSupport

/// Sanitising BTF for kernels that lack kinds: the replacements themselves, the memoised probes,
/// and loads into the host kernel with every probe forced to "absent".
@Suite("BTF sanitiser", .checksFileDescriptorLeaks)
struct BTFSanitizerTests {
    static var everyKindGraph: BTFTypeGraph { BTFTypeGraph(types: [.void] + BTFBuilderTests.everyKind) }

    @Test func everyKindIsReplacedWhenNothingIsSupported() throws {
        let graph = Self.everyKindGraph
        #expect(BTFFeatures(requiredBy: graph) == .all)
        let sanitized = graph.sanitized(for: [])
        #expect(BTFFeatures(requiredBy: sanitized).isEmpty)
        // One placeholder int for the enum64 members, after the last type.
        let placeholder = BTFTypeID(UInt32(graph.types.count))
        #expect(sanitized.types.count == graph.types.count + 1)
        #expect(sanitized[placeholder] == .int(BTFInt(name: "enum64_placeholder", size: 1, encoding: [], bits: 8)))

        let byte = { (name: String) in BTFType.int(BTFInt(name: name, size: 1, encoding: [], bits: 8)) }
        #expect(sanitized[6] == .enum(BTFEnum(name: "signed_state", size: 4, isSigned: false, values: [
            BTFEnumValue(name: "NEGATIVE", value: 0xFFFF_FFFB), BTFEnumValue(name: "ZERO", value: 0),
        ])))
        #expect(sanitized[7] == .union(BTFComposite(name: "wide", size: 8, members: [
            BTFMember(name: "HUGE", type: placeholder, bitOffset: 0)
        ])))
        #expect(sanitized[13] == .const(BTFQualifier(type: 1)))
        #expect(sanitized[14] == .enum(BTFEnum(name: "", size: 4, isSigned: false, values: [
            BTFEnumValue(name: "ctx", value: 2), BTFEnumValue(name: "_param1", value: 0),
        ])))
        #expect(sanitized[15] == .typedef(BTFTypedef(name: "handle", type: 14)))
        #expect(sanitized[16] == byte("counter"))
        #expect(sanitized[17] == .struct(BTFComposite(name: "_data", size: 4, members: [
            BTFMember(name: "counter", type: 16, bitOffset: 0)
        ])))
        #expect(sanitized[18] == .struct(BTFComposite(name: "", size: 8, members: [])))
        #expect(sanitized[19] == byte("noinline"))
        #expect(sanitized[21] == .const(BTFQualifier(type: 1)))
        // Kinds every kernel with BTF knows stay as they are.
        for id in [1, 2, 3, 4, 5, 8, 9, 10, 11, 12] {
            #expect(sanitized.types[id] == graph.types[id], "type \(id)")
        }
    }

    @Test func onlyTheMissingFeaturesAreReplaced() throws {
        let graph = Self.everyKindGraph
        #expect(graph.sanitized(for: .all) == graph)
        let withoutGlobal = graph.sanitized(for: BTFFeatures.all.subtracting(.globalFunctions))
        #expect(withoutGlobal[15] == .function(BTFFunction(name: "handle", prototype: 14, linkage: .static)))
        #expect(withoutGlobal[14] == graph[14])
        #expect(BTFFeatures(requiredBy: withoutGlobal) == BTFFeatures.all.subtracting(.globalFunctions))
        let withoutFloats = graph.sanitized(for: BTFFeatures.all.subtracting(.floats))
        for id in 0..<graph.types.count where id != 18 {
            #expect(withoutFloats.types[id] == graph.types[id])
        }
    }

    @Test func probesRunOnceAndOnlyForWhatIsAsked() throws {
        let asked = Mutex<[UInt32]>([])
        let probes = BTFFeatureProbes { (feature) throws(BTFLoadError) -> Bool in
            asked.withLock { $0.append(feature.rawValue) }
            return feature != .enum64
        }
        #expect(try probes.supported([.floats, .enum64]) == .floats)
        #expect(try probes.supports(.floats))
        #expect(try !probes.supports(.enum64))
        #expect(try !probes.supports([.floats, .enum64]))
        #expect(probes.runCount(of: .floats) == 1)
        #expect(probes.runCount(of: .enum64) == 1)
        #expect(probes.runCount(of: .typeTags) == 0)
        #expect(try probes.supported(.all) == BTFFeatures.all.subtracting(.enum64))
        for feature in BTFFeatures.all.elements {
            #expect(probes.runCount(of: feature) == 1, "\(feature)")
        }
        #expect(asked.withLock { $0.count } == 7)
    }

    @Test func aProbeThatThrowsIsAskedAgain() throws {
        let calls = Mutex(0)
        let probes = BTFFeatureProbes { (feature) throws(BTFLoadError) -> Bool in
            let call = calls.withLock { count in
                count += 1
                return count
            }
            if call == 1 { throw .closed }
            return true
        }
        #expect(throws: BTFLoadError.self) { try probes.supports(.floats) }
        #expect(try probes.supports(.floats))
        #expect(probes.runCount(of: .floats) == 2)
    }

    @Test func sanitizedGraphProbesOnlyTheKindsTheSpecUses() throws {
        let probes = BTFFeatureProbes { (_) throws(BTFLoadError) -> Bool in false }
        let spec = try BTFSpec(bytes: try BTFMarshalTests.objectBTF("minimal-el.o"))
        let graph = try spec.sanitizedGraph(probes: probes)
        #expect(BTFFeatures(requiredBy: graph).isEmpty)
        #expect(probes.runCount(of: .functions) == 1)
        #expect(probes.runCount(of: .dataSections) == 1)
        #expect(probes.runCount(of: .floats) == 0)
        #expect(probes.runCount(of: .enum64) == 0)
        _ = try spec.sanitizedGraph(probes: probes)
        #expect(probes.runCount(of: .functions) == 1)
    }

    @Test func probeBlobsParse() throws {
        for feature in BTFFeatures.all.elements {
            let spec = try BTFSpec(bytes: try BTFFeatureProbes.probeBlob(for: feature))
            let required = BTFFeatures(requiredBy: try spec.typeGraph())
            // A blob needs its own feature and nothing newer than it.
            #expect(required.contains(feature), "\(feature)")
            #expect(required.subtracting([feature, .functions, .dataSections]).isEmpty, "\(feature): \(required)")
        }
    }

    // MARK: - In the host kernel

    /// What the loader does before the BTF reaches the kernel: clang leaves data section sizes and
    /// variable offsets 0; the ELF file's sections and symbols have them, and the kernel wants the
    /// variables sorted by offset.
    static func fixingDataSections(_ graph: BTFTypeGraph, from file: ELFFile) throws -> BTFTypeGraph {
        let symbols = try file.symbols()
        var types = graph.types
        for (index, type) in types.enumerated() {
            guard case .dataSection(var section) = type else { continue }
            let elfSection = try #require(file.section(named: section.name), "ELF section \(section.name)")
            section.size = UInt32(elfSection.size)
            for position in section.variables.indices {
                guard case .variable(let variable) = graph[section.variables[position].type] else { continue }
                let symbol = try #require(
                    symbols.first { $0.name == variable.name && $0.section == elfSection.index },
                    "symbol \(variable.name)")
                section.variables[position].offset = UInt32(symbol.value)
            }
            section.variables.sort { $0.offset < $1.offset }
            types[index] = .dataSection(section)
        }
        return BTFTypeGraph(types: types, firstTypeID: graph.firstTypeID)
    }

    /// Every test kernel knows every BTF kind (see ``TestKernel``); a probe answering otherwise is a bug.
    @Test(.enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason), .requires(.everyBTFKind))
    func kernelHasEveryFeature() throws {
        guard KernelFeature.everyBTFKind.check() else { return }
        let probes = BTFFeatureProbes()
        #expect(try probes.supported(.all) == .all)
        #expect(try probes.supported(.all) == .all)
        for feature in BTFFeatures.all.elements {
            #expect(probes.runCount(of: feature) == 1)
        }
    }

    /// The objects without externs (`.kconfig` or `.ksyms` data sections, which have no ELF section):
    /// the object loader rewrites those before the BTF goes to the kernel, as libbpf's extern
    /// collection does.
    static let loadableObjects = TestData.objectNames().filter { name in
        guard name.hasSuffix("-el.o"), let bytes = try? BTFMarshalTests.objectBTF(name),
            let spec = try? BTFSpec(bytes: Array(bytes))
        else { return false }
        return spec.typeIDs(named: ".kconfig").isEmpty && spec.typeIDs(named: ".ksyms").isEmpty
    }

    @Test(.enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason), arguments: loadableObjects)
    func objectBTFLoadsWithEveryKindReplaced(name: String) throws {
        let file = try ELFFile(path: TestData.path(name))
        let spec = try BTFSpec(bytes: try BTFMarshalTests.objectBTF(name))
        let absent = BTFFeatureProbes { (_) throws(BTFLoadError) -> Bool in false }
        let fixed = try Self.fixingDataSections(try spec.typeGraph(), from: file)

        let required = BTFFeatures(requiredBy: fixed)
        let sanitized = fixed.sanitized(for: try absent.supported(required))
        #expect(BTFFeatures(requiredBy: sanitized).isEmpty)
        for feature in required.elements {
            #expect(absent.runCount(of: feature) == 1)
        }
        let handle = try BTFHandle(graph: sanitized)
        #expect(try handle.id() > 0)

        // And unsanitised, as this kernel has everything.
        let unsanitised = try BTFHandle(graph: fixed)
        #expect(try unsanitised.id() != (try handle.id()))
    }

    @Test(.enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
    func everyKindLoadsSanitisedForNothing() throws {
        let sanitized = Self.everyKindGraph.sanitized(for: [])
        let handle = try BTFHandle(graph: sanitized)
        #expect(try handle.id() > 0)
        let unsanitised = try BTFHandle(graph: Self.everyKindGraph)
        #expect(try unsanitised.id() > 0)
    }

    @Test(.enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
    func specLoadsThroughInjectedProbes() throws {
        var builder = BTFBuilder(deduplicatingTypes: false)
        for type in BTFBuilderTests.everyKind { try builder.add(type) }
        let spec = try BTFSpec(bytes: try builder.bytes(byteOrder: .bigEndian))
        let absent = BTFFeatureProbes { (_) throws(BTFLoadError) -> Bool in false }
        let handle = try BTFHandle(spec: spec, probes: absent)
        #expect(try handle.id() > 0)
        for feature in BTFFeatures.all.elements {
            #expect(absent.runCount(of: feature) == 1, "\(feature)")
        }
        _ = try BTFHandle(spec: spec, probes: absent)
        #expect(absent.runCount(of: .floats) == 1)
    }
}
