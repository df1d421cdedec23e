import EBPFASM
@testable import EBPFCollection
import EBPFSys
import Glibc
import Testing
import TestSupport

@Suite("Maps", .checksFileDescriptorLeaks, .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
struct MapTests {
    @Test func hashMapTypedOperations() throws {
        let map = try Map(spec: .hash("counts"))
        #expect(try map.lookup(UInt32(1), as: UInt64.self) == nil)
        try map.update(UInt32(1), UInt64(42))
        #expect(try map.lookup(UInt32(1), as: UInt64.self) == 42)

        // BPF_NOEXIST on an existing key and BPF_EXIST on a missing one fail with the kernel's errno.
        let exists = #expect(throws: MapError.self) { try map.update(UInt32(1), UInt64(7), flags: .noExist) }
        #expect(exists?.syscallError?.errno == .fileExists)
        let missing = #expect(throws: MapError.self) { try map.update(UInt32(2), UInt64(7), flags: .exist) }
        #expect(missing?.syscallError?.errno == .noSuchFileOrDirectory)
        try map.update(UInt32(1), UInt64(43), flags: .exist)
        #expect(try map.lookup(UInt32(1), as: UInt64.self) == 43)

        #expect(try map.lookupAndDelete(UInt32(1), as: UInt64.self) == 43)
        #expect(try map.lookup(UInt32(1), as: UInt64.self) == nil)
        try map.update(UInt32(3), UInt64(3))
        #expect(try map.delete(UInt32(3)))
        #expect(try map.delete(UInt32(3)) == false)
        try map.close()
    }

    @Test func sizeMismatchNamesMapOperationAndSizes() throws {
        let map = try Map(spec: .hash("counts", key: 8, value: 8))
        let error = #expect(throws: MapError.self) { try map.update(UInt32(1), UInt64(1)) }
        #expect(error?.description == "update map counts: key size 4, map expects 8")
        let valueError = #expect(throws: MapError.self) { _ = try map.lookup(UInt64(1), as: UInt32.self) }
        #expect(valueError?.description == "lookup map counts: value size 4, map expects 8")
        let rawError = #expect(throws: MapError.self) { _ = try map.lookup(keyBytes: [1, 2, 3]) }
        #expect(rawError?.description == "lookup map counts: key size 3, map expects 8")
    }

    @Test func typesWhoseStrideIsTheMapSizeArePaddedWithZeros() throws {
        // Size 5, stride 8: what C's sizeof gives for `struct { __u32 a; __u8 b; }`.
        struct Padded: Equatable { var a: UInt32; var b: UInt8 }
        let map = try Map(spec: .hash("padded", key: 8, value: 8))
        try map.update(Padded(a: 1, b: 2), Padded(a: 3, b: 4))
        #expect(try map.lookup(Padded(a: 1, b: 2), as: Padded.self) == Padded(a: 3, b: 4))
        #expect(try map.lookup(keyBytes: [1, 0, 0, 0, 2, 0, 0, 0]) == [3, 0, 0, 0, 4, 0, 0, 0])
        #expect(try map.lookupAndDelete(Padded(a: 1, b: 2), as: Padded.self) == Padded(a: 3, b: 4))
        #expect(try map.delete(Padded(a: 1, b: 2)) == false)

        let narrow = try Map(spec: .hash("padded_narrow", key: 6, value: 8))
        let error = #expect(throws: MapError.self) { try narrow.update(Padded(a: 1, b: 2), UInt64(1)) }
        #expect(error?.description == "update map padded_narrow: key size 5, map expects 6")
    }

    @Test func fullMapErrorCarriesTheKernelsErrnoAndHint() throws {
        let map = try Map(spec: .hash("full", entries: 1))
        try map.update(UInt32(1), UInt64(1))
        let error = #expect(throws: MapError.self) { try map.update(UInt32(2), UInt64(2)) }
        #expect(error?.operation == .update)
        #expect(error?.syscallError?.command == .mapUpdateElem)
        #expect(error?.syscallError?.errno == .argumentListTooLong)
        #expect(error?.syscallError?.hint == .mapFull)
        // A missing key is no error for lookups and deletes.
        #expect(try map.lookup(UInt32(2), as: UInt64.self) == nil)
        #expect(try map.delete(UInt32(2)) == false)
    }

    @Test func rawBytesVariants() throws {
        let map = try Map(spec: .hash("raw", key: 4, value: 4))
        try map.update(keyBytes: [1, 0, 0, 0], valueBytes: [9, 8, 7, 6])
        #expect(try map.lookup(keyBytes: [1, 0, 0, 0]) == [9, 8, 7, 6])
        #expect(try map.lookup(UInt32(1), as: UInt32.self) == UInt32(littleEndianBytes: [9, 8, 7, 6]))
        #expect(try map.nextKey(after: nil) == [1, 0, 0, 0])
        #expect(try map.nextKey(after: [1, 0, 0, 0]) == nil)
        #expect(try map.lookupAndDelete(keyBytes: [1, 0, 0, 0]) == [9, 8, 7, 6])
        #expect(try map.delete(keyBytes: [1, 0, 0, 0]) == false)
    }

    @Test func arrayMapAndInfo() throws {
        let spec = MapSpec(name: "an_array_with_a_long_name", type: .array, keySize: 4, valueSize: 4, maxEntries: 4)
        let map = try Map(spec: spec)
        #expect(map.name == "an_array_with_a_long_name")
        #expect(try map.lookup(UInt32(0), as: UInt32.self) == 0)
        #expect(try map.lookup(UInt32(4), as: UInt32.self) == nil)
        try map.update(UInt32(3), UInt32(33))
        let info = try map.info()
        #expect(info.type == .array)
        #expect(info.keySize == 4 && info.valueSize == 4 && info.maxEntries == 4)
        #expect(info.name == "an_array_with_a")  // the kernel keeps 15 bytes
        #expect(info.id > 0)

        let byID = try Map(id: info.id)
        #expect(byID.type == .array)
        #expect(try byID.lookup(UInt32(3), as: UInt32.self) == 33)
        #expect(try Map.allIDs().contains(info.id))
        try byID.close()
    }

    @Test func invalidNameIsRefusedBeforeTheKernel() throws {
        let error = #expect(throws: MapError.self) { try Map(spec: .hash("bad-name")) }
        guard case .invalidName(.invalidCharacter(_, let offset))? = error?.reason else {
            Issue.record("expected an invalid-name error, got \(String(describing: error))")
            return
        }
        #expect(offset == 3)
    }

    @Test func perCPUMapsHoldOneValuePerPossibleCPU() throws {
        let cpus = try PossibleCPUs.count()
        for type in [MapType.percpuHash, .percpuArray, .lruPercpuHash] {
            // 4-byte values sit in 8-byte slots.
            let map = try Map(spec: MapSpec(name: "percpu", type: type, keySize: 4, valueSize: 4, maxEntries: 8))
            #expect(map.valueCopies == cpus)
            #expect(map.valueBufferSize == 8 * cpus)
            let values = (0..<cpus).map { UInt32($0 * 10 + 1) }
            try map.updatePerCPU(UInt32(1), values)
            #expect(try map.lookupPerCPU(UInt32(1), as: UInt32.self) == values)
            let raw = try #require(try map.lookup(keyBytes: [1, 0, 0, 0]))
            #expect(raw.count == 8 * cpus)

            let wrongCount = #expect(throws: MapError.self) { try map.updatePerCPU(UInt32(1), [UInt32(1)] + values) }
            if case .perCPUValueCountMismatch(let given, let possible)? = wrongCount?.reason {
                #expect(given == cpus + 1 && possible == cpus)
            } else {
                Issue.record("expected a per-CPU count mismatch, got \(String(describing: wrongCount))")
            }
            let single = #expect(throws: MapError.self) { _ = try map.lookup(UInt32(1), as: UInt32.self) }
            #expect(single?.description.contains("per-CPU") == true)
            let entries = try map.entriesPerCPU(UInt32.self, UInt32.self)
            #expect(entries.contains { $0.key == 1 && $0.values == values })
        }
    }

    @Test func lruHashEvictsInsteadOfFailing() throws {
        let map = try Map(spec: MapSpec(name: "lru", type: .lruHash, keySize: 4, valueSize: 4, maxEntries: 16))
        for key in UInt32(0)..<200 {
            try map.update(key, key)
        }
        let keys = try map.keys(UInt32.self)
        #expect(!keys.isEmpty && keys.count <= 16 + 2 * 64)  // LRU lists are per CPU; it never holds all 200
        #expect(keys.count < 200)
    }

    @Test func longestPrefixMatch() throws {
        struct Key: BitwiseCopyable, Equatable {
            var prefixLength: UInt32
            var address: (UInt8, UInt8, UInt8, UInt8)
            static func == (a: Key, b: Key) -> Bool {
                a.prefixLength == b.prefixLength && a.address == b.address
            }
        }
        let map = try Map(
            spec: MapSpec(
                name: "routes", type: .lpmTrie, keySize: 8, valueSize: 4, maxEntries: 16, flags: .noPreallocation))
        try map.update(Key(prefixLength: 8, address: (10, 0, 0, 0)), UInt32(8))
        try map.update(Key(prefixLength: 24, address: (10, 1, 2, 0)), UInt32(24))
        #expect(try map.lookup(Key(prefixLength: 32, address: (10, 1, 2, 3)), as: UInt32.self) == 24)
        #expect(try map.lookup(Key(prefixLength: 32, address: (10, 9, 9, 9)), as: UInt32.self) == 8)
        #expect(try map.lookup(Key(prefixLength: 32, address: (11, 0, 0, 1)), as: UInt32.self) == nil)
    }

    @Test func queueAndStack() throws {
        let queue = try Map(spec: MapSpec(name: "queue", type: .queue, keySize: 0, valueSize: 4, maxEntries: 4))
        let stack = try Map(spec: MapSpec(name: "stack", type: .stack, keySize: 0, valueSize: 4, maxEntries: 4))
        for value in UInt32(1)...3 {
            try queue.push(value)
            try stack.push(value)
        }
        #expect(try queue.peek(as: UInt32.self) == 1)
        #expect(try queue.pop(as: UInt32.self) == 1)
        #expect(try queue.pop(as: UInt32.self) == 2)
        #expect(try stack.pop(as: UInt32.self) == 3)
        #expect(try stack.pop(as: UInt32.self) == 2)
        // The raw form: lookup-and-delete with an empty key.
        #expect(try queue.lookupAndDelete(keyBytes: []) == [3, 0, 0, 0])
        #expect(try queue.pop(as: UInt32.self) == nil)
        #expect(try stack.pop(as: UInt32.self) == 1)
        #expect(try stack.pop(as: UInt32.self) == nil)
    }

    @Test func ringBufferIsCreated() throws {
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let map = try Map(
            spec: MapSpec(name: "events", type: .ringbuf, keySize: 0, valueSize: 0, maxEntries: UInt32(4 * pageSize)))
        let info = try map.info()
        #expect(info.type == .ringbuf)
        #expect(info.maxEntries == UInt32(4 * pageSize))
    }

    @Test func arrayOfMapsWithInnerMap() throws {
        let innerSpec = MapSpec(name: "inner", type: .array, keySize: 4, valueSize: 4, maxEntries: 1)
        let outer = try Map(
            spec: MapSpec(name: "outer", type: .arrayOfMaps, keySize: 4, valueSize: 4, maxEntries: 2, innerMap: innerSpec))
        let inner = try Map(spec: innerSpec)
        try outer.update(UInt32(0), map: inner)
        #expect(try outer.lookupObjectID(UInt32(0)) == inner.info().id)
        #expect(try outer.lookupObjectID(UInt32(1)) == nil)
        // The kernel holds its own reference: the inner map survives closing ours.
        let innerID = try inner.info().id
        try inner.close()
        let reopened = try Map(id: innerID)
        #expect(reopened.type == .array)
        try reopened.close()

        let missing = #expect(throws: MapError.self) {
            try Map(spec: MapSpec(name: "no_inner", type: .hashOfMaps, keySize: 4, valueSize: 4, maxEntries: 1))
        }
        if case .missingInnerMap? = missing?.reason {} else { Issue.record("expected missingInnerMap, got \(String(describing: missing))") }
    }

    @Test func programArrayHoldsAProgram() throws {
        let programs = try Map(spec: MapSpec(name: "jumps", type: .progArray, keySize: 4, valueSize: 4, maxEntries: 4))
        let program = try returningProgram(7)
        try programs.update(UInt32(2), program: program)
        #expect(try programs.lookupObjectID(UInt32(2)) == program.info().id)
        #expect(try programs.delete(UInt32(2)))
    }

    @Test func iterationCopesWithDeletesWhileIterating() throws {
        let map = try Map(spec: .hash("iterate", key: 4, value: 8, entries: 256))
        for key in UInt32(0)..<100 {
            try map.update(key, UInt64(key) * 2)
        }
        #expect(Set(try map.keys(UInt32.self)) == Set(0..<100))
        let entries = try map.entries(UInt32.self, UInt64.self)
        #expect(entries.count == 100)
        #expect(entries.allSatisfy { $0.value == UInt64($0.key) * 2 })

        // Delete every key as it is visited, and one other key ahead of the iterator.
        var iterator = try map.iterator(UInt32.self, UInt64.self)
        var seen = Set<UInt32>()
        while let (key, value) = try iterator.next() {
            #expect(value == UInt64(key) * 2)
            seen.insert(key)
            try map.delete(key)
            try map.delete((key + 50) % 100)
        }
        #expect(!seen.isEmpty)
        #expect(try map.keys(UInt32.self).isEmpty)
    }

    @Test func batchOperations() throws {
        let map = try Map(spec: .hash("batch", key: 4, value: 8, entries: 256))
        let keys = Array(UInt32(0)..<100)
        #expect(try map.updateBatch(keys: keys, values: keys.map { UInt64($0) + 1000 }) == 100)

        var cursor = MapBatchCursor()
        var found: [UInt32: UInt64] = [:]
        var rounds = 0
        while !cursor.isAtEnd && rounds < 100 {
            let batch = try map.lookupBatch(UInt32.self, UInt64.self, cursor: &cursor, maxCount: 32)
            for (key, value) in zip(batch.keys, batch.values) {
                found[key] = value
            }
            rounds += 1
        }
        #expect(cursor.isAtEnd)
        #expect(found.count == 100)
        #expect(found.allSatisfy { $0.value == UInt64($0.key) + 1000 })

        #expect(try map.deleteBatch(keys: Array(keys[0..<40])) == 40)
        #expect(try map.keys(UInt32.self).count == 60)

        var deleting = MapBatchCursor()
        var removed = 0
        while !deleting.isAtEnd {
            removed += try map.lookupBatch(UInt32.self, UInt64.self, cursor: &deleting, maxCount: 64, deleting: true).keys.count
        }
        #expect(removed == 60)
        #expect(try map.keys(UInt32.self).isEmpty)

        let mismatch = #expect(throws: MapError.self) { try map.updateBatch(keys: [UInt32(1)], values: [UInt64]()) }
        if case .batchCountMismatch? = mismatch?.reason {} else { Issue.record("expected a count mismatch") }
    }

    @Test(.enabled(if: Privileges.canAdminister, "mounting bpffs needs CAP_SYS_ADMIN"))
    func pinAndReopen() throws {
        try ensureBPFFSMounted()
        let path = uniquePinPath("map")
        let map = try Map(spec: .hash("pinned"))
        try map.update(UInt32(5), UInt64(55))
        try map.pin(at: path)
        #expect(map.pinnedPath == path)
        #expect(fileExists(path))

        let reopened = try Map(pinnedAt: path)
        #expect(reopened.pinnedPath == path)
        #expect(try reopened.info().id == map.info().id)
        #expect(reopened.keySize == 4 && reopened.valueSize == 8 && reopened.type == .hash)
        #expect(try reopened.lookup(UInt32(5), as: UInt64.self) == 55)

        try reopened.unpin()
        #expect(!fileExists(path))
        try map.unpin()  // already gone: nothing to do
        #expect(throws: MapError.self) { try Map(pinnedAt: path) }
    }

    @Test func contentsAndFreeze() throws {
        let spec = MapSpec(
            name: ".rodata", type: .array, keySize: 4, valueSize: 8, maxEntries: 1, flags: .readOnlyProgram,
            contents: [MapEntry(key: [0, 0, 0, 0], value: .bytes([1, 2, 3, 4, 5, 6, 7, 8]))], freeze: true)
        let map = try Map(spec: spec)
        #expect(try map.lookup(keyBytes: [0, 0, 0, 0]) == [1, 2, 3, 4, 5, 6, 7, 8])
        let frozen = #expect(throws: MapError.self) { try map.update(UInt32(0), UInt64(0)) }
        #expect(frozen?.syscallError?.errno == .notPermitted)

        let unfrozen = try Map(spec: .hash("later"))
        try unfrozen.update(UInt32(1), UInt64(1))
        try unfrozen.freeze()
        #expect(throws: MapError.self) { try unfrozen.update(UInt32(1), UInt64(2)) }

        let unresolved = #expect(throws: MapError.self) {
            try Map(
                spec: MapSpec(
                    name: "jumps", type: .progArray, keySize: 4, valueSize: 4, maxEntries: 1,
                    contents: [MapEntry(key: [0, 0, 0, 0], value: .program("target"))]))
        }
        if case .unresolvedContentsReference(let name, let index)? = unresolved?.reason {
            #expect(name == "target" && index == 0)
        } else {
            Issue.record("expected an unresolved contents reference")
        }
    }

    @Test func closingTwiceIsSafeAndLaterOperationsFail() throws {
        let map = try Map(spec: .hash("closing"))
        let clone = try map.clone()
        try map.close()
        try map.close()
        #expect(map.isClosed)
        let error = #expect(throws: MapError.self) { _ = try map.lookup(UInt32(1), as: UInt64.self) }
        #expect(error?.description == "lookup map closing: the map is closed")
        #expect(map.withFileDescriptorValue { $0 } == nil)
        // The clone has a descriptor of its own.
        try clone.update(UInt32(1), UInt64(1))
        #expect(try clone.lookup(UInt32(1), as: UInt64.self) == 1)
    }

    @Test func concurrentUseAndClose() async throws {
        let map = try Map(spec: .hash("shared", entries: 1024))
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    for key in 0..<200 {
                        _ = try? map.update(UInt32(worker * 1000 + key), UInt64(key))
                    }
                }
            }
            group.addTask {
                try? map.close()
            }
        }
        #expect(map.isClosed)
    }

    /// Operations racing `close()` either run on the open map or fail as closed, and the
    /// descriptor is closed once, by whichever side is last (the suite checks for leaks). Many
    /// rounds, so that operations arrive before, during and after the close.
    @Test func operationsRacingCloseEitherRunOrSayClosed() async throws {
        for round in 0..<20 {
            let map = try Map(spec: .hash("race\(round)", entries: 64))
            let unexpected = await withTaskGroup(of: Int.self) { group in
                for worker in 0..<3 {
                    group.addTask {
                        var unexpected = 0
                        for key in 0..<300 {
                            do throws(MapError) {
                                try map.update(UInt32(key % 64), UInt64(worker))
                                _ = try map.lookup(UInt32(key % 64), as: UInt64.self)
                            } catch {
                                if case .closed = error.reason {} else { unexpected += 1 }
                            }
                        }
                        return unexpected
                    }
                }
                group.addTask {
                    for _ in 0..<(round * 10) { await Task.yield() }
                    try? map.close()
                    return 0
                }
                return await group.reduce(0, +)
            }
            #expect(unexpected == 0)
            #expect(map.isClosed)
            let error = #expect(throws: MapError.self) { _ = try map.lookup(UInt32(1), as: UInt64.self) }
            if case .closed? = error?.reason {} else { Issue.record("expected closed, got \(String(describing: error))") }
        }
    }
}

extension UInt32 {
    init(littleEndianBytes bytes: [UInt8]) {
        self = bytes.enumerated().reduce(0) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
    }
}

@Suite("Memory-mapped arrays", .checksFileDescriptorLeaks, .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
struct MapMemoryTests {
    @Test func readsAndWritesWithoutSystemCalls() throws {
        let map = try Map(
            spec: MapSpec(name: "mapped", type: .array, keySize: 4, valueSize: 4, maxEntries: 10, flags: .mmapable))
        let memory = try map.memoryMapped()
        #expect(memory.stride == 8)
        #expect(memory.count == 80)
        #expect(memory.store(UInt32(77), toByteOffset: 3 * memory.stride))
        #expect(try map.lookup(UInt32(3), as: UInt32.self) == 77)
        try map.update(UInt32(4), UInt32(88))
        #expect(memory.load(fromByteOffset: 4 * memory.stride, as: UInt32.self) == 88)
        #expect(memory.load(fromByteOffset: 78, as: UInt32.self) == nil)
        #expect(!memory.store(UInt64(1), toByteOffset: 76))
        // The mapping outlives the descriptor.
        try map.close()
        #expect(memory.load(fromByteOffset: 3 * 8, as: UInt32.self) == 77)

        let plain = try Map(spec: MapSpec(name: "plain", type: .array, keySize: 4, valueSize: 4, maxEntries: 1))
        let error = #expect(throws: MapError.self) { try plain.memoryMapped() }
        if case .notMemoryMappable? = error?.reason {} else { Issue.record("expected notMemoryMappable") }
    }

    @Test func frozenMapIsMappedReadOnly() throws {
        let map = try Map(
            spec: MapSpec(
                name: "frozen", type: .array, keySize: 4, valueSize: 8, maxEntries: 1, flags: .mmapable,
                contents: [MapEntry(key: [0, 0, 0, 0], value: .bytes([5, 0, 0, 0, 0, 0, 0, 0]))], freeze: true))
        // The kernel refuses a writable mapping (EPERM); the retry maps it read-only.
        let retried = try map.memoryMapped()
        #expect(retried.isReadOnly)
        #expect(retried.load(fromByteOffset: 0, as: UInt64.self) == 5)
        let memory = try map.memoryMapped(readOnly: true)
        #expect(memory.load(fromByteOffset: 0, as: UInt64.self) == 5)
        #expect(!memory.store(UInt64(6), toByteOffset: 0))
    }

    @Test func readOnlyForProgramsMapIsMappedReadOnly() throws {
        // BPF_F_RDONLY_PROG: the kernel answers a writable mapping with EACCES.
        let map = try Map(
            spec: MapSpec(name: "i16rdonlyprog", type: .array, keySize: 4, valueSize: 8, maxEntries: 1, flags: [.mmapable, .readOnlyProgram]))
        let memory = try map.memoryMapped()
        #expect(memory.isReadOnly)
        #expect(memory.load(fromByteOffset: 0, as: UInt64.self) == 0)
    }

    /// A variable whose offset lies past its memory-mapped map's value: an error, where `bytes`
    /// returned no bytes and `get` then read past them, and `setBytes` stored nothing silently.
    @Test func variableOutsideItsMappedMapThrows() throws {
        let map = try Map(spec: MapSpec(name: "i16var", type: .array, keySize: 4, valueSize: 8, maxEntries: 1, flags: .mmapable))
        let variable = Variable(spec: VariableSpec(name: "late", mapName: ".data", offset: 16, size: 8, isReadOnly: false), map: map)
        try #require(variable.isMemoryMapped)
        #expect(throws: CollectionError.self) { try variable.get(as: UInt64.self) }
        #expect(throws: CollectionError.self) { try variable.set(UInt64(1)) }
        let straddling = Variable(spec: VariableSpec(name: "straddling", mapName: ".data", offset: 4, size: 8, isReadOnly: false), map: map)
        #expect(throws: CollectionError.self) { try straddling.set(UInt64(1)) }
        #expect(try map.memoryMapped().load(fromByteOffset: 0, as: UInt64.self) == 0)
    }
}
