import EBPFASM
import EBPFCollection
import EBPFSys
import Glibc
import Testing
import TestSupport

/// BPF arenas (Linux 6.9): created, mapped into this process, and shared with a program, which
/// reads what user space wrote and writes what user space then reads through the mapping.
/// Real on the 6.12 VM; on the host only where the machine allows arena maps (see TestKernel).
@Suite("BPF arenas", .checksFileDescriptorLeaks, .requires(.arenaMaps),
       .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
struct ArenaMapTests {
    static func arena(pages: UInt32 = 4, at address: UInt64 = 0) throws -> Map {
        try Map(
            spec: MapSpec(
                name: "test_arena", type: .arena, keySize: 0, valueSize: 0, maxEntries: pages, flags: .mmapable,
                mapExtra: address))
    }

    /// `out = *(u64 *)(arena + 0) + 1; *(u64 *)(arena + offset) = out`, through the arena's user
    /// address (`BPF_PSEUDO_MAP_VALUE` gives it) cast to the kernel's (`addr_space_cast`).
    static func incrementingProgram(arena: Map, writingTo offset: Int16) throws -> Program {
        let descriptor = try #require(arena.withFileDescriptorValue { $0 }, "the arena is open")
        let instructions: [Instruction] = [
            .loadMapValue(.r1, fileDescriptor: descriptor, offset: 0),
            .addressSpaceCast(.r1, .r1, to: 0, from: 1),
            .load(.r2, from: .r1, offset: 0, size: .doubleWord),
            .add64(.r2, 1),
            .store(.r2, to: .r1, offset: offset, size: .doubleWord),
            .mov64(.r0, 0),
            .exit(),
        ]
        return try Program(spec: ProgramSpec(name: "arena_inc", type: .socketFilter, instructions: instructions))
    }

    @Test func arenaIsSharedWithPrograms() throws {
        guard KernelFeature.arenaMaps.check() else { return }
        let arena = try Self.arena()
        let memory = try arena.arenaMemory()
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        #expect(memory.count == 4 * pageSize)
        #expect(memory.stride == pageSize)
        #expect(memory.store(UInt64(41), toByteOffset: 0))
        let program = try Self.incrementingProgram(arena: arena, writingTo: 8)
        #expect(try program.testRun(data: [UInt8](repeating: 0, count: 64)).returnValue == 0)
        #expect(memory.load(fromByteOffset: 8, as: UInt64.self) == 42, "the program's write, read through the mapping")
        #expect(memory.store(UInt64(99), toByteOffset: 0))
        _ = try program.testRun(data: [UInt8](repeating: 0, count: 64))
        #expect(memory.load(fromByteOffset: 8, as: UInt64.self) == 100)
        #expect(memory.load(fromByteOffset: memory.count - 7, as: UInt64.self) == nil, "loads stay inside the arena")
    }

    /// libbpf's `__ulong(map_extra, addr)`: the arena lives at that user address.
    @Test func aFixedAddressIsWhereTheArenaIsMapped() throws {
        guard KernelFeature.arenaMaps.check() else { return }
        let wanted: UInt64 = 1 << 44
        let arena = try Self.arena(pages: 2, at: wanted)
        #expect(try arena.info().mapExtra == wanted)
        let memory = try arena.arenaMemory()
        #expect(memory.address == wanted)
        #expect(memory.store(UInt64(7), toByteOffset: 0))
        let program = try Self.incrementingProgram(arena: arena, writingTo: 16)
        _ = try program.testRun(data: [UInt8](repeating: 0, count: 64))
        #expect(memory.load(fromByteOffset: 16, as: UInt64.self) == 8)
    }

    /// The kernel fixes an arena's user address at its first mapping and refuses any other, so
    /// the map keeps that one mapping and hands it out again, to its clones too.
    @Test func theArenaIsMappedOnce() throws {
        guard KernelFeature.arenaMaps.check() else { return }
        let arena = try Self.arena(pages: 1)
        let memory = try arena.arenaMemory()
        #expect(try arena.arenaMemory() === memory)
        let clone = try arena.clone()
        defer { try? clone.close() }
        #expect(try clone.arenaMemory() === memory)
    }

    /// `Map(spec:)` copies an arena's contents (what an object's `__arena` globals start as) to
    /// the start of the arena, and refuses contents larger than the arena.
    @Test func contentsAreCopiedToTheStartOfTheArena() throws {
        guard KernelFeature.arenaMaps.check() else { return }
        let initial: [UInt8] = Array(1...24)
        let arena = try Map(
            spec: MapSpec(
                name: "test_arena", type: .arena, keySize: 0, valueSize: 0, maxEntries: 1, flags: .mmapable,
                contents: [MapEntry(key: [], value: .bytes(initial))]))
        let memory = try arena.arenaMemory()
        #expect(memory.withUnsafeBytes { Array($0.prefix(24)) } == initial)

        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let tooLarge = MapSpec(
            name: "test_arena", type: .arena, keySize: 0, valueSize: 0, maxEntries: 1, flags: .mmapable,
            contents: [MapEntry(key: [], value: .bytes([UInt8](repeating: 1, count: pageSize + 1)))])
        let error = try #require(throws: MapError.self) { try Map(spec: tooLarge) }
        guard case .arenaTooSmall(let needed, let available) = error.reason else {
            Issue.record("expected arenaTooSmall, got \(error)")
            return
        }
        #expect(needed == pageSize + 1 && available == pageSize)
    }

    @Test func otherMapsAreNotArenas() throws {
        let array = try Map(spec: MapSpec(name: "not_arena", type: .array, keySize: 4, valueSize: 8, maxEntries: 1))
        #expect(throws: MapError.self) { try array.arenaMemory() }
    }
}
