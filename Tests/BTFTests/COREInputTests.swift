import EBPFASM
import EBPFBTF
import Testing
import TestSupport

/// Malformed relocation records give typed errors, never a trap; several target specs are
/// searched in order.
@Suite("CO-RE input and targets")
struct COREInputTests {
    @Test func malformedAccessStringsAreRejected() throws {
        let object = try COREFixtures.Object("core_fields", "el")
        let task = try #require(object.spec.typeID(named: "task_struct", kind: .struct))
        let relocator = CORERelocator(localSpec: object.spec, targets: [try COREFixtures.kernel("6.18")])
        for access in ["", ":0", "0:", "a", "0:-1", "0::1", "0:99", "0:4:1", "0:3:16", "99999999999", "0:" + String(repeating: "0:", count: 70) + "0"] {
            let relocation = BTFCoreRelocation(instructionOffset: 0, type: task, accessString: access, kind: .fieldByteOffset)
            do {
                let fixup = try relocator.resolve(relocation, program: "p", instructionIndex: 0)
                Issue.record("'\(access)' resolved to \(fixup)")
            } catch {
                guard case .invalidAccessString = error.reason else {
                    Issue.record("'\(access)': \(error)")
                    continue
                }
                #expect(error.description.contains("program 'p', instruction 0"))
            }
        }
        let typeBased = BTFCoreRelocation(instructionOffset: 0, type: task, accessString: "0:1", kind: .typeSize)
        #expect(throws: COREError.self) { try relocator.resolve(typeBased) }
        let unknownKind = BTFCoreRelocation(instructionOffset: 0, type: task, accessString: "0", kind: .init(rawValue: 13))
        do {
            _ = try relocator.resolve(unknownKind)
            Issue.record("kind 13 does not exist")
        } catch {
            #expect(error.reason == .unsupportedKind(.init(rawValue: 13)))
        }
    }

    @Test func everyKindOnEveryLocalTypeNeverTraps() throws {
        let object = try COREFixtures.Object("core_fields", "el")
        let relocator = CORERelocator(localSpec: object.spec, targets: [try COREFixtures.kernel("6.1")])
        var outcomes = 0
        for raw in 0..<object.spec.typeCount + 2 {
            for kind in 0...13 {
                for access in ["0", "0:0", "1:1", "0:0:0", "2"] {
                    let relocation = BTFCoreRelocation(
                        instructionOffset: 0, type: BTFTypeID(raw), accessString: access,
                        kind: BTFCoreRelocationKind(rawValue: UInt32(kind)))
                    _ = try? relocator.resolve(relocation)
                    outcomes += 1
                }
            }
        }
        #expect(outcomes > 0)
    }

    @Test func relocationOffsetMustStartAnInstruction() throws {
        let object = try COREFixtures.Object("core_types", "el")
        let section = "raw_tp/sys_enter"
        var relocations = object.relocations(section)
        // The first instruction is a lddw: byte 8 is its second half.
        relocations[0].instructionOffset = 8
        let kernel = try COREFixtures.kernel("6.18")
        let instructions = try object.instructions(section)
        do {
            _ = try CORE.relocate(
                instructions: instructions, relocations: relocations, localSpec: object.spec,
                targets: [kernel], program: section)
            Issue.record("byte 8 is inside a lddw")
        } catch {
            #expect(error.reason == .noInstructionAtOffset(8))
        }
    }

    /// Issue 16: a relocation that lands on a byte swap fails with an error naming the program,
    /// the instruction and the relocation, instead of rewriting the swap's width.
    @Test func relocationOnAByteSwapNamesTheRelocation() throws {
        let object = try COREFixtures.Object("core_types", "el")
        let section = "raw_tp/sys_enter"
        let kernel = try COREFixtures.kernel("6.18")
        var instructions = try object.instructions(section)
        let relocator = CORERelocator(localSpec: object.spec, targets: [kernel])
        let relocations = object.relocations(section)
        let relocation = try #require(relocations.first { (try? relocator.resolve($0).isPoisoned) == false })
        let index = try #require(RawOffsetMap(instructions).index(ofByteOffset: Int(relocation.instructionOffset)))
        instructions[index] = .byteSwap(.r1, width: .bits64)
        do {
            _ = try relocator.relocate(instructions: instructions, relocations: [relocation], program: section)
            Issue.record("a byte swap was relocated")
        } catch {
            guard case .unexpectedInstruction = error.reason else {
                Issue.record("\(error)")
                return
            }
            #expect(error.relocation == relocation && error.instructionIndex == index)
            #expect(error.description.contains("program '\(section)', instruction \(index)"))
            #expect(error.description.contains(relocation.accessString))
        }
    }

    /// A type missing from the first target is looked for in the others, as module BTF is after
    /// vmlinux; a type the first target has is never looked for elsewhere.
    @Test func laterTargetsAreSearchedOnlyWithoutCandidatesInTheFirst() throws {
        let object = try COREFixtures.Object("core_ambiguous", "el")
        let relocations = object.relocations("raw_tp/sys_enter")
        let sameY = try #require(relocations.first { $0.accessString == "0:1" && $0.kind == .fieldByteOffset })
        let kernel = try COREFixtures.kernel("6.18")
        let user = try COREAmbiguityTests.userTarget("el")
        let fixup = try CORERelocator(localSpec: object.spec, targets: [kernel, user]).resolve(sameY)
        #expect(fixup.targetValue == 4)
        #expect(fixup.target?.targetIndex == 1)

        let fields = try COREFixtures.Object("core_fields", "el")
        let pid = try #require(fields.relocations(CORETests.section).first)
        let fromKernel = try CORERelocator(localSpec: fields.spec, targets: [kernel, user]).resolve(pid)
        #expect(fromKernel.target?.targetIndex == 0)
        #expect(fromKernel.targetValue == 1264)
    }

    @Test func essentialNamesDropTheLastFlavour() throws {
        // Flavoured local names find plain kernel names: task_struct___new and bpf_map_type___new.
        let object = try COREFixtures.Object("core_fields", "el")
        let relocator = CORERelocator(localSpec: object.spec, targets: [try COREFixtures.kernel("6.18")])
        let flavoured = try #require(object.relocations(CORETests.section).first { $0.kind == .fieldExists })
        let fixup = try relocator.resolve(flavoured)
        #expect(fixup.target?.name == "struct task_struct")
    }
}
