import EBPFASM
import EBPFBTF
import EBPFCollection
import EBPFELF
import Testing
import TestSupport

/// `__arena` globals (libbpf 1.4's `__arena`, clang's address space 1) in `.addr_space.1`: read
/// into the arena map's contents and variables of the arena, and referenced by programs as data
/// in the arena; objects whose globals have no single arena map that fits them are refused.
@Suite("__arena globals in .addr_space.1")
struct ArenaGlobalsReaderTests {
    @Test(arguments: [ByteOrder.littleEndian, .bigEndian])
    func globalsBecomeTheArenasContentsAndVariables(order: ByteOrder) throws {
        let spec = try CollectionSpec(elfFile: TestData.path("arena_globals-\(order == .littleEndian ? "el" : "eb").o"))
        let arena = try #require(spec.maps["arena"])
        #expect(arena.type == .arena && arena.maxEntries == 2 && arena.flags == .mmapable)
        #expect(spec.maps[CollectionSpec.arenaGlobalsSection] == nil, "no map of the section's own")
        #expect(spec.arenaGlobalsMap?.name == "arena")
        let globals = try #require(arena.arenaGlobals)
        #expect(globals.count == 48, "8 + 16 + 3 * 8 bytes")
        #expect(arena.contents.count == 1 && arena.contents.first?.key == [], "one entry, keyed like the arena: no key bytes")

        let names = ["arena_initial", "arena_primes", "arena_sum", "arena_echo", "arena_from_user"]
        var offsets: Set<UInt32> = []
        for name in names {
            let variable = try #require(spec.variables[name], "\(name)")
            #expect(variable.mapName == "arena", "\(name)")
            #expect(!variable.isReadOnly, "\(name)")
            #expect(variable.typeID != nil, "\(name) is typed from the .addr_space.1 DATASEC")
            #expect(variable.size == (name == "arena_primes" ? 16 : 8), "\(name)")
            #expect(UInt64(variable.offset) + UInt64(variable.size) <= 48, "\(name)")
            offsets.insert(variable.offset)
        }
        #expect(offsets.count == names.count, "each global has a place of its own")
        #expect(try spec.value(ofVariable: "arena_initial", as: UInt64.self) == 0x1122_3344_5566_7788)
        let primes = try spec.value(ofVariable: "arena_primes")
        #expect(primes == [2, 3, 5, 7].flatMap { encoded(UInt32($0), order) })
        #expect(try spec.value(ofVariable: "arena_sum", as: UInt64.self) == 0)

        // Every reference to a global is a lddw of an address in the arena at the global's offset.
        let program = try #require(spec.programs["arena_globals_update"])
        let references = program.instructions.filter { $0.symbolReference == "arena" }
        #expect(references.count == 7, "arena_initial, arena_primes three times, arena_sum, arena_echo, arena_from_user")
        for instruction in references {
            #expect(instruction.loadImmediateSource == .mapValue)
        }
        let referenced = Set(references.map { UInt32(truncatingIfNeeded: $0.constant >> 32) })
        #expect(referenced == offsets)
    }

    @Test func bothByteOrdersAgree() throws {
        let (little, big) = try specs("arena_globals")
        #expect(orderIndependent(little) == orderIndependent(big))
    }

    /// Set before loading, like any global: the arena's initial bytes change.
    @Test func anArenaGlobalCanBeSetBeforeLoading() throws {
        var spec = try CollectionSpec(elfFile: TestData.path("arena_globals-el.o"))
        try spec.setVariable("arena_from_user", to: UInt64(1234))
        #expect(try spec.value(ofVariable: "arena_from_user", as: UInt64.self) == 1234)
        let offset = Int(try #require(spec.variables["arena_from_user"]).offset)
        let globals = try #require(spec.maps["arena"]?.arenaGlobals)
        #expect(Array(globals[offset..<(offset + 8)]) == encoded(UInt64(1234), .littleEndian))
    }

    /// The BTF the loader sends gives `.addr_space.1` the size of the globals and each variable its
    /// offset, as for any data section; both fix-up paths agree.
    @Test func theDataSectionIsFixedUpFromTheArenaGlobals() throws {
        let spec = try CollectionSpec(elfFile: TestData.path("arena_globals-el.o"))
        let types = try #require(spec.types)
        let graph = spec.fixedUpForKernel(try types.typeGraph())
        let id = try #require(types.typeID(named: CollectionSpec.arenaGlobalsSection, kind: .dataSection))
        guard case .dataSection(let section)? = graph[id] else {
            Issue.record("\(CollectionSpec.arenaGlobalsSection) is not a DATASEC after fix-up")
            return
        }
        #expect(section.size == 48)
        var entries: [String: (offset: UInt32, size: UInt32)] = [:]
        for entry in section.variables {
            guard case .variable(let variable)? = graph[entry.type] else {
                Issue.record("entry \(entry.type) is not a variable")
                continue
            }
            entries[variable.name] = (entry.offset, entry.size)
        }
        for (name, variable) in spec.variables where variable.mapName == "arena" {
            #expect(entries[name]?.offset == variable.offset && entries[name]?.size == variable.size, "\(name)")
        }
        var editor = BTFBlobEditor(types)
        try spec.fixUpForKernel(&editor)
        let edited = try BTFSpec(bytes: try editor.bytes())
        #expect(try edited.typeGraph().types == graph.types)
    }

    @Test(arguments: ["el", "eb"])
    func globalsWithoutAnArenaMapAreRefused(order: String) throws {
        let error = try #require(throws: BPFObjectError.self) {
            try CollectionSpec(elfFile: TestData.path("arena_globals_no_map-\(order).o"))
        }
        #expect(error == .arenaGlobalsWithoutArena(section: ".addr_space.1", symbol: "orphan"))
        #expect("\(error)" == "section '.addr_space.1': __arena global 'orphan' needs an arena map (BPF_MAP_TYPE_ARENA) declared in '.maps'")
    }

    @Test(arguments: ["el", "eb"])
    func globalsWithTwoArenaMapsAreRefused(order: String) throws {
        let error = try #require(throws: BPFObjectError.self) {
            try CollectionSpec(elfFile: TestData.path("arena_globals_two_maps-\(order).o"))
        }
        #expect(error == .ambiguousArena(section: ".addr_space.1", maps: ["first_arena", "second_arena"]))
        #expect("\(error)".contains("2 arena maps ('first_arena', 'second_arena')"))
    }

    @Test(arguments: ["el", "eb"])
    func globalsLargerThanTheArenaAreRefused(order: String) throws {
        let error = try #require(throws: BPFObjectError.self) {
            try CollectionSpec(elfFile: TestData.path("arena_globals_too_big-\(order).o"))
        }
        #expect(error == .arenaGlobalsTooLarge(section: ".addr_space.1", map: "small_arena", size: 8192, arenaSize: 4096))
    }

    /// An object with an arena and no globals keeps an arena without contents.
    @Test func anArenaWithoutGlobalsHasNoContents() throws {
        let spec = try CollectionSpec(elfFile: TestData.path("maps_ulong-el.o"))
        #expect(spec.maps["arena"]?.contents == [])
        #expect(spec.maps["arena"]?.arenaGlobals == nil)
        #expect(spec.arenaGlobalsMap == nil)
    }
}
