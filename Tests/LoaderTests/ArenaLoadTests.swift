import EBPFCollection
import EBPFELF
import EBPFSys
import Glibc
import Testing
import TestSupport

extension LoaderSuites {
    /// Tier 3 (the 6.12 VM; arenas are Linux 6.9): an object's `__arena` globals
    /// (testdata/arena_globals.c) loaded for real. The loader maps the arena before loading the
    /// program and copies the globals' initial bytes to its start (libbpf 1.4-1.6's placement);
    /// the program reads the C initial values and what user space wrote, and user space reads
    /// the program's writes through the same mapping. On the host, arena map creation is refused
    /// on some machines of this kind, so ``KernelFeature/arenaMaps`` decides (see TestKernel).
    @Suite(
        "__arena globals loaded", .checksFileDescriptorLeaks, .requires(.arenaMaps),
        .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
    struct ArenaLoadTests {
        /// `arena_initial` (0x1122334455667788) plus the primes 2, 3, 5 and 7, as the program sums them.
        static let expectedSum: UInt64 = 0x1122_3344_5566_7788 + 17

        @Test func globalsAreReadAndWrittenFromBothSides() throws {
            guard KernelFeature.arenaMaps.check() else { return }
            let spec = try testdataSpec("arena_globals")
            let collection = try LoadedCollection(spec: spec)
            defer { collection.close() }
            let arena = try collection.map("arena")
            let memory = try arena.arenaMemory()
            #expect(try arena.arenaMemory() === memory, "the map keeps its one mapping")

            // The C initial values are in the arena before the program runs.
            let initial = try collection.variable("arena_initial")
            #expect(initial.map === arena && initial.isMemoryMapped)
            #expect(try initial.get(as: UInt64.self) == 0x1122_3344_5566_7788)
            let primes = try collection.variable("arena_primes")
            #expect(try primes.get(as: (UInt32, UInt32, UInt32, UInt32).self) == (2, 3, 5, 7))
            #expect(try collection.variable("arena_sum").get(as: UInt64.self) == 0)

            // User space writes a global; the program reads it and writes two others.
            let fromUser = try collection.variable("arena_from_user")
            try fromUser.set(UInt64(41))
            let program = try collection.program("arena_globals_update")
            #expect(try program.testRun(data: packet).returnValue == 0)
            #expect(try collection.variable("arena_sum").get(as: UInt64.self) == Self.expectedSum)
            let echo = try collection.variable("arena_echo")
            #expect(try echo.get(as: UInt64.self) == 42, "the program saw user space's 41")

            // The same globals through the raw mapping, at the variables' offsets.
            #expect(memory.store(UInt64(99), toByteOffset: Int(fromUser.offset)))
            _ = try program.testRun(data: packet)
            #expect(memory.load(fromByteOffset: Int(echo.offset), as: UInt64.self) == 100)
            #expect(try echo.get(as: UInt64.self) == 100)
        }

        /// libbpf 1.4-1.6 place the globals at offset 0 of the arena; so does this loader.
        @Test func globalsStartTheArena() throws {
            guard KernelFeature.arenaMaps.check() else { return }
            let spec = try testdataSpec("arena_globals")
            let globals = try #require(spec.maps["arena"]?.arenaGlobals)
            let collection = try LoadedCollection(spec: spec)
            defer { collection.close() }
            let memory = try collection.map("arena").arenaMemory()
            let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
            #expect(memory.count == 2 * pageSize)
            #expect(memory.withUnsafeBytes { Array($0.prefix(globals.count)) } == globals)
            #expect(memory.withUnsafeBytes { $0[globals.count...].allSatisfy { $0 == 0 } }, "the rest of the arena is zero")
        }

        /// A value set in the spec is the initial value the program sees.
        @Test func aGlobalSetBeforeLoadingReachesTheProgram() throws {
            guard KernelFeature.arenaMaps.check() else { return }
            var spec = try testdataSpec("arena_globals")
            try spec.setVariable("arena_initial", to: UInt64(1000))
            let collection = try LoadedCollection(spec: spec)
            defer { collection.close() }
            _ = try collection.program("arena_globals_update").testRun(data: packet)
            #expect(try collection.variable("arena_sum").get(as: UInt64.self) == 1017)
        }

        /// A program the verifier refuses, after the arena was created and mapped: the load
        /// closes and unmaps the arena, and the kernel frees it.
        @Test func aFailedLoadLeavesNoArenaBehind() throws {
            guard KernelFeature.arenaMaps.check() else { return }
            var spec = try testdataSpec("arena_globals")
            spec.programs["arena_globals_update"]?.instructions.removeLast()  // no final exit
            let before = try KernelObjectIDs.now()
            #expect(throws: CollectionError.self) { try LoadedCollection(spec: spec) }
            let added = try KernelObjectIDs.settled(since: before, spec: spec)
            #expect(added.maps.isEmpty && added.programs.isEmpty, "left behind: \(added)")
        }
    }
}
