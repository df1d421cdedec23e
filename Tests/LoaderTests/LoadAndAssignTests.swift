import EBPFASM
import EBPFCollection
import EBPFELF
import EBPFSys
import Glibc
import Testing
import TestSupport

/// The subset `calls_loop` of the subprog object, written by hand as bpf2swift would generate it.
struct LoopObjects: CollectionObjects {
    static let programNames = ["calls_loop"]
    static let variableNames = ["accumulator"]

    let callsLoop: Program
    let accumulator: Variable

    init(assigning objects: CollectionAssignment) throws(CollectionError) {
        callsLoop = try objects.program("calls_loop")
        accumulator = try objects.variable("accumulator")
    }
}

/// Two programs and the maps of the nested object, but not the map of maps.
struct DispatchObjects: CollectionObjects {
    static let programNames = ["dispatch"]
    static let mapNames = ["jump_table"]

    let dispatch: Program
    let jumpTable: Map

    init(assigning objects: CollectionAssignment) throws(CollectionError) {
        dispatch = try objects.program("dispatch")
        jumpTable = try objects.map("jump_table")
    }
}

/// Asks for a name its declaration lacks.
struct UndeclaredObjects: CollectionObjects {
    static let programNames = ["calls_loop"]
    let other: Program

    init(assigning objects: CollectionAssignment) throws(CollectionError) {
        other = try objects.program("calls_subprograms")
    }
}

extension LoaderSuites {
@Suite("LoadAndAssign", .checksFileDescriptorLeaks, .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason), .serialized)
struct LoadAndAssignTests {
    @Test func aSubsetCreatesNothingElse() throws {
        let before = try KernelObjectIDs.now()
        let spec = try testdataSpec("subprog")
        let objects = try LoopObjects(loading: spec)
        let added = try KernelObjectIDs.now().added(since: before).named(Set(spec.programs.keys).union(spec.maps.keys))
        // One program and its one map (.bss); calls_subprograms was not loaded.
        #expect(added.programs == [try objects.callsLoop.info().id])
        #expect(added.maps == [try objects.accumulator.map.info().id])
        #expect(try objects.callsLoop.testRun(data: packet).returnValue == 2)
        #expect(try objects.accumulator.get(as: UInt64.self) == 28)
        try objects.callsLoop.close()
        try objects.accumulator.map.close()
    }

    @Test func dependenciesAreLoadedAndClosedAfterwards() throws {
        var spec = try testdataSpec("maps_nested")
        spec.maps["sized"]?.flags.remove(.numaNode)
        let descriptorsBefore = FileDescriptorLeaks.openDescriptors().count
        let before = try KernelObjectIDs.now()
        let objects = try DispatchObjects(loading: spec)
        let added = try KernelObjectIDs.now().added(since: before).named(Set(spec.programs.keys).union(spec.maps.keys))
        // dispatch uses outer and sized, the jump table holds tail_one; bloom and the inner maps
        // (held only by outer) are not part of it... except that outer's contents name them.
        #expect(added.programs.count == 2)
        #expect(!added.maps.isEmpty)
        let bloomCreated = try added.maps.contains { try Map(id: $0).withClosing { $0.name == "bloom" } }
        #expect(!bloomCreated)
        // Only what the type holds stays open in this process.
        #expect(FileDescriptorLeaks.openDescriptors().count == descriptorsBefore + 2)
        #expect(try objects.dispatch.testRun(data: packet).returnValue == 1)
        try objects.dispatch.close()
        try objects.jumpTable.close()
    }

    @Test func takingAnUndeclaredNameFailsAndClosesEverything() throws {
        let before = try KernelObjectIDs.now()
        let spec = try testdataSpec("subprog")
        let error = #expect(throws: CollectionError.self) { try UndeclaredObjects(loading: spec) }
        guard case .notLoaded(.program, "calls_subprograms")? = error?.reason else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        let added = try KernelObjectIDs.settled(since: before, spec: spec)
        #expect(added.programs.isEmpty && added.maps.isEmpty)
    }

    @Test func unknownNamesAreRefusedBeforeCreatingAnything() throws {
        let error = #expect(throws: CollectionError.self) {
            try LoadedCollection(spec: try testdataSpec("subprog"), selection: CollectionSelection(maps: ["nope"]))
        }
        guard case .notInSpec(.map, "nope")? = error?.reason else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
    }

    @Test func pinnedMapsAreCreatedReusedAndChecked() throws {
        let directory = try makePinDirectory("reuse")
        defer { removePinDirectory(directory) }
        let spec = try testdataSpec("maps_btf")
        var options = CollectionOptions()
        options.pinPath = directory

        let first = try LoadedCollection(spec: spec, options: options)
        #expect(directoryEntries(directory) == ["pinned_lru"])
        try first.map("pinned_lru").update(UInt64(7), UInt32(70))
        let firstID = try first.map("pinned_lru").info().id
        first.close()

        // The second load reuses the pinned map, contents and all.
        let second = try LoadedCollection(spec: spec, options: options)
        #expect(try second.map("pinned_lru").info().id == firstID)
        #expect(try second.map("pinned_lru").lookup(UInt64(7), as: UInt32.self) == 70)
        second.close()

        // A spec that differs from the pinned map is refused, and the pin stays.
        var changed = spec
        changed.maps["pinned_lru"]?.maxEntries = 65
        let error = #expect(throws: CollectionError.self) { try LoadedCollection(spec: changed, options: options) }
        guard case .incompatibleMap(name: "pinned_lru", field: "max entries", _, _)? = error?.reason else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(directoryEntries(directory) == ["pinned_lru"])
    }

    @Test func aLoadFailingAtItsLastProgramLeavesNothingBehind() throws {
        let directory = try makePinDirectory("failure")
        defer { removePinDirectory(directory) }
        var spec = try testdataSpec("maps_btf")
        // A second program that sorts last and that the verifier refuses: r0 is never set.
        spec.programs["zz_rejected"] = ProgramSpec(name: "zz_rejected", type: .socketFilter, instructions: [.exit()])
        var options = CollectionOptions()
        options.pinPath = directory

        let descriptors = FileDescriptorLeaks.openDescriptors()
        let before = try KernelObjectIDs.now()
        let error = #expect(throws: CollectionError.self) { try LoadedCollection(spec: spec, options: options) }
        #expect(error?.step == .program("zz_rejected"))
        #expect(error?.verifierError?.reason == "R0 !read_ok")
        #expect(FileDescriptorLeaks.openDescriptors() == descriptors)
        #expect(directoryEntries(directory).isEmpty)
        let added = try KernelObjectIDs.settled(since: before, spec: spec)
        #expect(added.programs.isEmpty)
        #expect(added.maps.isEmpty)
    }

    @Test func mapReplacementsAreUsedAndNotClosed() throws {
        let spec = try testdataSpec("maps_legacy")
        let replacement = try Map(spec: try #require(spec.maps["execve_counts"]))
        defer { try? replacement.close() }
        try replacement.update(UInt32(0), UInt64(99))
        var options = CollectionOptions()
        options.mapReplacements["execve_counts"] = replacement
        let collection = try LoadedCollection(spec: spec, options: options)
        #expect(try collection.map("execve_counts").lookup(UInt32(0), as: UInt64.self) == 99)
        collection.close()
        #expect(!replacement.isClosed)

        var wrong = try #require(spec.maps["pid_seen"])
        wrong.name = "execve_counts"
        let mismatched = try Map(spec: wrong)
        defer { try? mismatched.close() }
        options.mapReplacements["execve_counts"] = mismatched
        #expect(throws: CollectionError.self) { try LoadedCollection(spec: spec, options: options) }
        #expect(!mismatched.isClosed)
    }
}
}

extension Map {
    /// `body`'s result, closing the map afterwards.
    func withClosing<Result>(_ body: (Map) throws -> Result) rethrows -> Result {
        defer { try? close() }
        return try body(self)
    }
}
