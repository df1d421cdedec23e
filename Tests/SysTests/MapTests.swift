import Testing
import TestSupport

@testable import EBPFSys

private let hashMapType: UInt32 = 1  // BPF_MAP_TYPE_HASH
private let arrayMapType: UInt32 = 2  // BPF_MAP_TYPE_ARRAY
private let noExist: UInt64 = 1  // BPF_NOEXIST

@Suite("Maps (root)", .checksFileDescriptorLeaks, .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
struct MapTests {
    @Test func hashMapElements() throws {
        let map = try Sys.createMap(
            type: hashMapType, keySize: 4, valueSize: 8, maxEntries: 16, name: BPFObjectName("sys_hash"))
        for key in UInt32(1)...3 {
            try Sys.updateElement(map: map, key: bytes(of: key), value: bytes(of: UInt64(key) * 100))
        }
        let stored = try Sys.lookupElement(map: map, key: bytes(of: UInt32(2)), valueSize: 8)
        #expect(value(UInt64.self, from: stored) == 200)

        let duplicate = #expect(throws: BPFSyscallError.self) {
            try Sys.updateElement(map: map, key: bytes(of: UInt32(2)), value: bytes(of: UInt64(0)), flags: noExist)
        }
        #expect(duplicate?.errno == .fileExists)

        try Sys.deleteElement(map: map, key: bytes(of: UInt32(2)))
        let missing = #expect(throws: BPFSyscallError.self) {
            _ = try Sys.lookupElement(map: map, key: bytes(of: UInt32(2)), valueSize: 8)
        }
        #expect(missing?.errno == .noSuchFileOrDirectory)
        #expect(missing?.command == .mapLookupElem)

        var keys: Set<UInt32> = []
        var cursor: [UInt8]? = nil
        while let next = try Sys.nextKey(map: map, after: cursor, keySize: 4) {
            keys.insert(value(UInt32.self, from: next) ?? 0)
            cursor = next
        }
        #expect(keys == [1, 3])

        let taken = try Sys.lookupAndDeleteElement(map: map, key: bytes(of: UInt32(3)), valueSize: 8)
        #expect(value(UInt64.self, from: taken) == 300)
        #expect(throws: BPFSyscallError.self) {
            _ = try Sys.lookupElement(map: map, key: bytes(of: UInt32(3)), valueSize: 8)
        }

        let info = try Sys.objectInfo(of: map, as: MapInfo.self)
        #expect(info.type == hashMapType)
        #expect(info.keySize == 4)
        #expect(info.valueSize == 8)
        #expect(info.maxEntries == 16)
        #expect(info.name.string == "sys_hash")
        #expect(info.id != 0)
    }

    @Test func arrayMapElements() throws {
        let map = try Sys.createMap(type: arrayMapType, keySize: 4, valueSize: 4, maxEntries: 4)
        #expect(value(UInt32.self, from: try Sys.lookupElement(map: map, key: bytes(of: UInt32(0)), valueSize: 4)) == 0)
        try Sys.updateElement(map: map, key: bytes(of: UInt32(3)), value: bytes(of: UInt32(0xabcd)))
        #expect(value(UInt32.self, from: try Sys.lookupElement(map: map, key: bytes(of: UInt32(3)), valueSize: 4)) == 0xabcd)

        let outOfRange = #expect(throws: BPFSyscallError.self) {
            try Sys.updateElement(map: map, key: bytes(of: UInt32(4)), value: bytes(of: UInt32(1)))
        }
        #expect(outOfRange?.errno == .argumentListTooLong)

        let notDeletable = #expect(throws: BPFSyscallError.self) {
            try Sys.deleteElement(map: map, key: bytes(of: UInt32(0)))
        }
        #expect(notDeletable?.errno == .invalidArgument)

        var keys: [UInt32] = []
        var cursor: [UInt8]? = nil
        while let next = try Sys.nextKey(map: map, after: cursor, keySize: 4) {
            keys.append(value(UInt32.self, from: next) ?? 99)
            cursor = next
        }
        #expect(keys == [0, 1, 2, 3])
    }

    @Test func hashMapBatches() throws {
        let map = try Sys.createMap(type: hashMapType, keySize: 4, valueSize: 4, maxEntries: 32)
        let count = 10
        let keys = (0..<count).flatMap { bytes(of: UInt32($0)) }
        let values = (0..<count).flatMap { bytes(of: UInt32($0 * 7)) }
        #expect(try Sys.updateBatch(map: map, keys: keys, values: values, count: count) == count)

        var seen: [UInt32: UInt32] = [:]
        var token: [UInt8]? = nil
        var rounds = 0
        repeat {
            let batch = try Sys.lookupBatch(map: map, keySize: 4, valueSize: 4, maxCount: 4, after: token)
            for index in 0..<batch.count {
                let key = value(UInt32.self, from: Array(batch.keys[(index * 4)..<(index * 4 + 4)])) ?? 0
                seen[key] = value(UInt32.self, from: Array(batch.values[(index * 4)..<(index * 4 + 4)]))
            }
            token = batch.nextToken
            rounds += 1
        } while token != nil && rounds < 20
        #expect(seen.count == count)
        #expect(seen.allSatisfy { $0.value == $0.key * 7 })

        let firstHalf = (0..<5).flatMap { bytes(of: UInt32($0)) }
        #expect(try Sys.deleteBatch(map: map, keys: firstHalf, count: 5) == 5)
        let drained = try Sys.lookupBatch(
            map: map, keySize: 4, valueSize: 4, maxCount: 32, after: nil, deleting: true)
        #expect(drained.count == 5)
        #expect(drained.nextToken == nil)
        #expect(try Sys.nextKey(map: map, after: nil, keySize: 4) == nil)
    }

    @Test func frozenMapRefusesUpdates() throws {
        let map = try Sys.createMap(type: arrayMapType, keySize: 4, valueSize: 4, maxEntries: 1)
        try Sys.updateElement(map: map, key: bytes(of: UInt32(0)), value: bytes(of: UInt32(5)))
        try Sys.freezeMap(map)
        let refused = #expect(throws: BPFSyscallError.self) {
            try Sys.updateElement(map: map, key: bytes(of: UInt32(0)), value: bytes(of: UInt32(6)))
        }
        #expect(refused?.errno == .notPermitted)
        #expect(value(UInt32.self, from: try Sys.lookupElement(map: map, key: bytes(of: UInt32(0)), valueSize: 4)) == 5)
    }

    @Test func fullHashMapIsReportedAsFull() throws {
        let map = try Sys.createMap(type: hashMapType, keySize: 4, valueSize: 4, maxEntries: 2)
        try Sys.updateElement(map: map, key: bytes(of: UInt32(1)), value: bytes(of: UInt32(1)))
        try Sys.updateElement(map: map, key: bytes(of: UInt32(2)), value: bytes(of: UInt32(2)))
        let full = #expect(throws: BPFSyscallError.self) {
            try Sys.updateElement(map: map, key: bytes(of: UInt32(3)), value: bytes(of: UInt32(3)))
        }
        #expect(full?.errno == .argumentListTooLong)
        #expect(full?.hint == .mapFull)
    }

    @Test func invalidMapIsRejectedWithATypedError() {
        let error = #expect(throws: BPFSyscallError.self) {
            _ = try Sys.createMap(type: hashMapType, keySize: 0, valueSize: 4, maxEntries: 1)
        }
        #expect(error?.command == .mapCreate)
        #expect(error?.errno == .invalidArgument)
    }
}
