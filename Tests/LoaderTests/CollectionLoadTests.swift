import EBPFASM
import EBPFCollection
import EBPFELF
import EBPFSys
import Glibc
import Testing
import TestSupport

/// Tier 2: every testdata object of ours loads into the host kernel (or fails the way it was
/// written to), and its programs and maps work once loaded.
///
/// Objects that do not load as a whole, and why (each has a test that checks the failure):
/// - `core_ambiguous`: its candidates disagree on purpose (a CO-RE error, not a load).
/// - `core_bitfields`, `core_fields`: tier 1 CO-RE fixtures whose reachable code is poisoned on
///   6.18 (as libbpf poisons it) or reads a tracepoint argument as the wrong pointer.
/// - `isa_v3`, `isa_v4`: inline assembly that emits every opcode, not a verifiable program.
/// - `loops`: `bounded_loop` keeps its counter in a volatile stack slot the verifier cannot
///   bound; `switch_on_protocol` of the same object loads alone.
/// - `externs`: refers to `bpf_prog_active` without a type, which needs kallsyms with data
///   symbols (`CONFIG_KALLSYMS_ALL`); `externs_load` covers externs on both test kernels.
/// - `maps_nested`: asks for NUMA node 1, which a single-node machine refuses; loads with the
///   node cleared.
/// - `sections`: one program of each libbpf section; several types cannot load on the host
///   (lockdown refuses fentry/fexit/LSM, no kprobes); loaded program by program.
/// - `struct_ops`: its `demo_ops` table exists in no kernel (the typed error is checked in
///   StructOpsLoadTests, which also loads, registers and runs `tcp_ca`).
extension LoaderSuites {
@Suite("Loading testdata objects", .checksFileDescriptorLeaks, .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
struct CollectionLoadTests {
    @Test func minimal() throws {
        let collection = try LoadedCollection(spec: try testdataSpec("minimal"))
        defer { collection.close() }
        #expect(collection.maps.isEmpty)
        let run = try collection.program("accept_all").testRun(data: packet)
        #expect(run.returnValue == UInt32.max)
    }

    @Test func globalsAreReadAndWrittenThroughVariables() throws {
        var spec = try testdataSpec("globals")
        let collection = try LoadedCollection(spec: spec)
        defer { collection.close() }
        let program = try collection.program("count_packets")
        #expect(try program.testRun(data: packet).returnValue == 0)
        #expect(try collection.variable("packets_seen").get(as: UInt64.self) == 1)
        #expect(try collection.variable("bytes_seen").get(as: UInt64.self) == 50)
        #expect(try collection.variable("custom_counter").get(as: UInt64.self) == 10)
        #expect(try collection.variable("sample_rate").get(as: UInt32.self) == 16)
        #expect(try collection.variable("greeting").string() == "hello")

        // Writing .data changes what the program sees: every packet is now sampled.
        try collection.variable("sample_rate").set(UInt32(1))
        #expect(try program.testRun(data: packet).returnValue == UInt32.max)
        #expect(try collection.variable("packets_seen").get(as: UInt64.self) == 2)

        // .rodata is frozen once loaded; it is set on the spec before loading instead.
        #expect(try collection.variable("target_pid").isReadOnly)
        #expect(throws: CollectionError.self) { try collection.variable("target_pid").set(UInt32(5)) }
        #expect(collection.maps[".rodata"].map { (try? $0.info().flags.contains(.readOnlyProgram)) == true } == true)

        try spec.setVariable("target_pid", to: UInt32(5))
        let configured = try LoadedCollection(spec: spec)
        defer { configured.close() }
        try configured.variable("sample_rate").set(UInt32(1))
        #expect(try configured.variable("target_pid").get(as: UInt32.self) == 5)
        #expect(try configured.program("count_packets").testRun(data: packet).returnValue == 0)
    }

    @Test func subprogramsAreLinkedPerProgram() throws {
        let spec = try testdataSpec("subprog")
        // Each program gets only the functions it reaches.
        let subprograms = try spec.linkedProgram(named: "calls_subprograms")
        let loop = try spec.linkedProgram(named: "calls_loop")
        #expect(subprograms.functionInfos.count == 4)  // itself, twice, mix, global_helper
        #expect(loop.functionInfos.count == 2)  // itself, loop_body
        #expect(subprograms.instructions.firstUnresolvedReference.map { $0.symbol } != "twice")

        let collection = try LoadedCollection(spec: spec)
        defer { collection.close() }
        let length: UInt64 = 50
        let mixed = ((length &* 31) ^ length) &+ ((length &* 31) ^ 1)
        let expected: UInt32 = UInt32(truncatingIfNeeded: mixed) > 10 ? 1 : 0
        #expect(try collection.program("calls_subprograms").testRun(data: packet).returnValue == expected)
        #expect(try collection.program("calls_loop").testRun(data: packet).returnValue == 2)
        #expect(try collection.variable("accumulator").get(as: UInt64.self) == 28)
    }

    @Test func legacyMaps() throws {
        let collection = try LoadedCollection(spec: try testdataSpec("maps_legacy"))
        defer { collection.close() }
        let counts = try collection.map("execve_counts")
        #expect(counts.type == .array)
        try counts.update(UInt32(0), UInt64(41))
        #expect(try counts.lookup(UInt32(0), as: UInt64.self) == 41)
        #expect(try collection.program("count_execve").type == .kprobe)
    }

    @Test func nestedMapsAndProgramArraysAreFilledByName() throws {
        var spec = try testdataSpec("maps_nested")
        spec.maps["sized"]?.flags.remove(.numaNode)
        let collection = try LoadedCollection(spec: spec)
        defer { collection.close() }
        let outer = try collection.map("outer")
        let innerA = try collection.map("inner_a").info().id
        let innerB = try collection.map("inner_b").info().id
        #expect(try outer.lookupObjectID(UInt32(0)) == innerA)
        #expect(try outer.lookupObjectID(UInt32(1)) == nil)
        #expect(try outer.lookupObjectID(UInt32(2)) == innerB)
        let tailOne = try collection.program("tail_one").info().id
        #expect(try collection.map("jump_table").lookupObjectID(UInt32(1)) == tailOne)
        // dispatch tail-calls tail_one, which returns 1.
        #expect(try collection.program("dispatch").testRun(data: packet).returnValue == 1)
        #expect(try collection.map("bloom").info().mapExtra == 3)
    }

    @Test func unsupportedNUMANodeFailsCleanly() throws {
        let before = try KernelObjectIDs.now()
        let spec = try testdataSpec("maps_nested")
        #expect(throws: CollectionError.self) { try LoadedCollection(spec: spec) }
        // CollectionTests create maps named "outer" of their own, maybe at this very moment. A
        // program array is freed only after a deferred clear that the kernel's workqueue runs
        // late on a busy machine (seen taking over ten seconds while other suites verify
        // programs), so "jump_table" is left to the descriptor check of this suite's trait.
        let added = try KernelObjectIDs.settled(since: before, spec: spec, ignoring: ["outer", "jump_table"])
        let names = added.maps.compactMap { try? Map(id: $0).withClosing { try $0.info().name } }
        #expect(added.maps.isEmpty && added.programs.isEmpty, "left: \(names)")
    }

    @Test func loopsLoadProgramByProgram() throws {
        let spec = try testdataSpec("loops")
        let collection = try LoadedCollection(spec: spec, selection: CollectionSelection(programs: ["switch_on_protocol"]))
        defer { collection.close() }
        #expect(collection.programs.keys.sorted() == ["switch_on_protocol"])
        #expect(try collection.program("switch_on_protocol").testRun(data: packet).returnValue == 0)

        // Without a log: a log of a million verified instructions takes minutes to grow into.
        var options = CollectionOptions()
        options.programs.logDisabled = true
        let error = #expect(throws: CollectionError.self) {
            try LoadedCollection(spec: spec, selection: CollectionSelection(programs: ["bounded_loop"]), options: options)
        }
        #expect(error?.step == .program("bounded_loop"))
        guard case .program(let program)? = error?.reason else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(program.programName == "bounded_loop")
    }

    @Test func programWrittenToBeRejectedShowsTheVerifierLog() throws {
        // isa_v3's atomic compare-exchange uses r0 before anything wrote it.
        let error = #expect(throws: CollectionError.self) {
            try LoadedCollection(spec: try testdataSpec("isa_v3"), selection: CollectionSelection(programs: ["isa_atomic"]))
        }
        let verifier = try #require(error?.verifierError)
        #expect(verifier.reason == "R0 !read_ok")
        #expect(verifier.failingInstruction?.contains("atomic_cmpxchg") == true)
        #expect(String(describing: try #require(error)).contains("verifier log"))
    }

    @Test func sectionsLoadWhereTheKernelAllows() throws {
        let spec = try testdataSpec("sections")
        var loaded: [String] = []
        var refused: [String: String] = [:]
        for name in spec.programs.keys.sorted() {
            do {
                let collection = try LoadedCollection(spec: spec, selection: CollectionSelection(programs: [name]))
                loaded.append(name)
                collection.close()
            } catch {
                refused[name] = "\(error.reason)"
            }
        }
        // Socket filters, XDP and tc classifiers load on every kernel with BPF.
        for name in spec.programs.values.filter({ [.socketFilter, .xdp, .schedCls].contains($0.type) }).map(\.name) {
            #expect(loaded.contains(name), "\(name): \(refused[name] ?? "")")
        }
        #expect(loaded.count > spec.programs.count / 2, "refused: \(refused)")
    }

    @Test func deliberatelyBrokenObjectsFailTheWayTheyWereWritten() throws {
        let ambiguous = #expect(throws: CollectionError.self) { try LoadedCollection(spec: try testdataSpec("core_ambiguous")) }
        guard case .core(let core)? = ambiguous?.reason else {
            Issue.record("core_ambiguous: \(String(describing: ambiguous))")
            return
        }
        #expect(core.candidates.count > 1)

        let bitfields = #expect(throws: CollectionError.self) { try LoadedCollection(spec: try testdataSpec("core_bitfields")) }
        #expect(bitfields?.verifierError?.reason == "invalid func unknown#195896080")

        let fields = #expect(throws: CollectionError.self) { try LoadedCollection(spec: try testdataSpec("core_fields")) }
        #expect(fields?.verifierError != nil)

        let externs = #expect(throws: CollectionError.self) { try LoadedCollection(spec: try testdataSpec("externs")) }
        guard case .kernelSymbolNotFound(let name, _)? = externs?.reason else {
            Issue.record("externs: \(String(describing: externs))")
            return
        }
        #expect(name == "bpf_prog_active")

        let structOps = #expect(throws: CollectionError.self) { try LoadedCollection(spec: try testdataSpec("struct_ops")) }
        guard case .structOps(let error)? = structOps?.reason, case .kernelTypeNotFound = error.reason else {
            Issue.record("struct_ops: \(String(describing: structOps))")
            return
        }
    }
}
}
