import EBPFASM
import EBPFBTF
import EBPFELFFile
import Testing
import TestSupport

/// Relocations with several candidate types: candidates that disagree are an error that names
/// them; candidates that agree are fine.
@Suite("CO-RE ambiguity")
struct COREAmbiguityTests {
    /// core_target.o as a user-supplied target spec: flavours of struct amb and enum amb_enum
    /// that disagree, and two identical flavours of struct same.
    static func userTarget(_ order: String) throws -> BTFSpec {
        let file = try ELFFile(path: TestData.path("core_target-\(order).o"))
        let btf = try #require(file.section(named: ".BTF"))
        return try BTFSpec(bytes: try file.contents(of: btf))
    }

    /// Resolves each relocation of `section` with a fresh relocator, so that earlier relocations
    /// do not narrow the candidates, keyed by "<kind> <access>".
    static func resolveEach(
        _ object: COREFixtures.Object, _ section: String, targets: [BTFSpec]
    ) -> [String: Result<COREFixup, COREError>] {
        var results: [String: Result<COREFixup, COREError>] = [:]
        for relocation in object.relocations(section) {
            let relocator = CORERelocator(localSpec: object.spec, targets: targets)
            let key = "\(relocation.kind) \(relocator.accessDescription(of: relocation))"
            results[key] = Result { () throws(COREError) -> COREFixup in
                try relocator.resolve(relocation, program: section)
            }
        }
        return results
    }

    static func isAmbiguous(_ result: Result<COREFixup, COREError>?) -> Bool {
        guard case .failure(let error) = result, case .ambiguous(let candidates) = error.reason else { return false }
        return candidates.count >= 2
    }

    static func value(_ result: Result<COREFixup, COREError>?) -> UInt64? {
        guard case .success(let fixup) = result, !fixup.isPoisoned else { return nil }
        return fixup.targetValue
    }

    @Test(arguments: COREFixtures.orders)
    func userTargetDisagreesForEveryKindThatCan(order: String) throws {
        let object = try COREFixtures.Object("core_ambiguous", order)
        let results = Self.resolveEach(object, "raw_tp/sys_enter", targets: [try Self.userTarget("el")])
        for key in [
            "target_type_id struct amb", "byte_off struct amb::a", "byte_sz struct amb::a",
            "field_exists struct amb::a", "signed struct amb::bits", "lshift_u64 struct amb::bits",
            "rshift_u64 struct amb::bits", "type_size struct amb", "enumval_value enum amb_enum::AMB_VALUE",
        ] {
            #expect(Self.isAmbiguous(results[key]), "\(key): \(String(describing: results[key]))")
        }
        // Existence and matching give 1 for every candidate, so they cannot disagree.
        #expect(Self.value(results["type_exists struct amb"]) == 1)
        #expect(Self.value(results["type_matches struct amb"]) == 1)
        #expect(Self.value(results["enumval_exists enum amb_enum::AMB_VALUE"]) == 1)
        // Two identical flavours agree.
        #expect(Self.value(results["byte_off struct same::y"]) == 4)
        #expect(Self.value(results["type_size struct same"]) == 8)
        #expect(results.count == 14)
    }

    @Test(arguments: COREFixtures.orders, ["6.1", "6.18"])
    func kernelTypesWithSeveralDefinitions(order: String, kernel: String) throws {
        let object = try COREFixtures.Object("core_ambiguous", order)
        let results = Self.resolveEach(object, "raw_tp/sys_exit", targets: [try COREFixtures.kernel(kernel)])
        // Three struct perf_aux_event (16, 16 and 32 bytes) and two syscall_tp_t (24 and 64).
        #expect(Self.isAmbiguous(results["type_size struct perf_aux_event"]))
        #expect(Self.isAmbiguous(results["target_type_id struct perf_aux_event"]))
        #expect(Self.isAmbiguous(results["type_size struct syscall_tp_t"]))
        // Their common first members sit at the same offsets.
        #expect(Self.value(results["byte_off struct perf_aux_event::header.size"]) == 6)
        #expect(Self.value(results["byte_off struct syscall_tp_t::syscall_nr"]) == 8)
    }

    @Test func errorNamesProgramInstructionAccessAndCandidates() throws {
        let object = try COREFixtures.Object("core_ambiguous", "el")
        let section = "raw_tp/sys_exit"
        let instructions = try object.instructions(section)
        let kernel = try COREFixtures.kernel("6.18")
        do {
            _ = try CORE.relocate(
                instructions: instructions, relocations: object.relocations(section), localSpec: object.spec,
                targets: [kernel], program: section)
            Issue.record("relocating perf_aux_event against 6.18 must be ambiguous")
        } catch {
            #expect(error.program == section)
            #expect(error.instructionIndex == 0)
            #expect(error.localType == "struct perf_aux_event")
            #expect(error.access == "struct perf_aux_event")
            #expect(error.candidates.map(\.typeID) == [15266, 15267, 15274])
            let text = error.description
            #expect(text.contains("program 'raw_tp/sys_exit', instruction 0"))
            #expect(text.contains("target_type_id"))
            #expect(text.contains("candidates disagree"))
            #expect(text.contains("[15274] struct perf_aux_event"))
        }
    }

    @Test func fieldErrorRendersTheAccessAsC() throws {
        let object = try COREFixtures.Object("core_ambiguous", "el")
        let relocation = try #require(object.relocations("raw_tp/sys_enter").first { $0.kind == .fieldByteOffset && $0.accessString == "0:0" })
        let relocator = CORERelocator(localSpec: object.spec, targets: [try Self.userTarget("el")])
        #expect(throws: COREError.self) { try relocator.resolve(relocation, program: "p", instructionIndex: 7) }
        do {
            _ = try relocator.resolve(relocation, program: "p", instructionIndex: 7)
        } catch {
            #expect(error.access == "struct amb::a")
            #expect(error.description.contains("program 'p', instruction 7: struct amb::a (0:0, byte_off)"))
            #expect(error.candidates.map(\.name) == ["struct amb", "struct amb___other"])
        }
        let nested = try #require(
            COREFixtures.Object("core_ambiguous", "el").relocations("raw_tp/sys_exit").first { $0.accessString == "0:0:2" })
        #expect(relocator.accessDescription(of: nested) == "struct perf_aux_event::header.size")
    }

    /// Once a relocation found which candidates match, later relocations of the same type use
    /// only those, as libbpf does: `bpf_core_type_matches(struct amb)` matches one of the two
    /// flavours, after which its size is no longer ambiguous.
    @Test func candidatesNarrowAfterAMatch() throws {
        let object = try COREFixtures.Object("core_ambiguous", "el")
        let relocations = object.relocations("raw_tp/sys_enter")
        let matches = try #require(relocations.first { $0.kind == .typeMatches })
        let size = try #require(relocations.first { $0.kind == .typeSize && object.spec.typeID(named: "amb", kind: .struct) == $0.type })
        let target = try Self.userTarget("el")
        #expect(throws: COREError.self) { try CORERelocator(localSpec: object.spec, targets: [target]).resolve(size) }
        let relocator = CORERelocator(localSpec: object.spec, targets: [target])
        let matched = try relocator.resolve(matches)
        #expect(matched.targetValue == 1)
        #expect(matched.target?.name == "struct amb")
        #expect(try relocator.resolve(size).targetValue == 24)
    }
}
