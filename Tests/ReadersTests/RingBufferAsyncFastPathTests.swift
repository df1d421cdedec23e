import EBPFCollection
import EBPFSys
import Glibc
@testable import EBPFReaders
import Testing
import TestSupport

/// The asynchronous paths' promises: no wait while records are ready, one wait per wake-up, and
/// every header checked in the single walk over a lent batch.
@Suite("Ring buffer async fast paths", .checksFileDescriptorLeaks, .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
struct RingBufferAsyncFastPathTests {
    private func waits(_ reader: RingBufferReader) -> Int {
        reader.poller.asyncWaitCount.load(ordering: .relaxed)
    }

    /// Writes one record with `program` once `reader` has started its first asynchronous wait
    /// (or after a few seconds).
    private func writeOnceWaiting(_ reader: RingBufferReader, _ program: Program) -> Task<Void, any Error> {
        Task.detached {
            for _ in 0..<1000 where reader.poller.asyncWaitCount.load(ordering: .relaxed) == 0 {
                await pause(milliseconds: 5)
            }
            _ = try program.testRun(data: testPacket, repeat: 1)
        }
    }

    @Test func recordsComeWithoutWaitingWhileReadyAndWaitOncePerWakeUp() async throws {
        let ring = try ringBufferMap(size: 65536)
        let counter = try counterMap()
        let program = try ringbufOutputProgram(ring: ring, counter: counter)
        let reader = try RingBufferReader(ring)
        _ = try program.testRun(data: testPacket, repeat: 100)

        var iterator = reader.records.makeAsyncIterator()
        for expected in UInt64(1)...100 {
            #expect(try await iterator.next()?.decode(as: TestEvent.self)?.sequence == expected)
        }
        #expect(waits(reader) == 0, "a hundred ready records, no wait")
        #expect(reader.pendingBytes() == 0)
        // The ring is empty: the next record takes one wait.
        let writer = writeOnceWaiting(reader, program)
        #expect(try await iterator.next()?.decode(as: TestEvent.self)?.sequence == 101)
        try await writer.value
        #expect(waits(reader) == 1)
        reader.close()
    }

    @Test func batchesComeWithoutWaitingWhileReadyAndWaitOncePerWakeUp() async throws {
        let ring = try ringBufferMap(size: 65536)
        let counter = try counterMap()
        let program = try ringbufOutputProgram(ring: ring, counter: counter)
        let reader = try RingBufferReader(ring)
        _ = try program.testRun(data: testPacket, repeat: 50)
        #expect(try await reader.withNextBatch { $0.count } == 50)
        _ = try program.testRun(data: testPacket, repeat: 5)
        #expect(try await reader.withNextBatch { $0.count } == 5)
        #expect(waits(reader) == 0, "records were ready for both calls")

        let writer = writeOnceWaiting(reader, program)
        #expect(try await reader.withNextBatch { batch in batch.map { $0.load(as: TestEvent.self)?.sequence ?? 0 } } == [56])
        try await writer.value
        #expect(waits(reader) == 1)
        reader.close()
    }

    @Test func recordsThatTheClosureDoesNotVisitGoBackWithTheBatch() async throws {
        let ring = try ringBufferMap(size: 65536)
        let counter = try counterMap()
        let program = try ringbufOutputProgram(ring: ring, counter: counter)
        let reader = try RingBufferReader(ring)
        _ = try program.testRun(data: testPacket, repeat: 10)
        let firstTwo = try await reader.withNextBatch { batch in
            batch.prefix(2).map { $0.load(as: TestEvent.self)?.sequence ?? 0 }
        }
        #expect(firstTwo == [1, 2])
        #expect(reader.pendingBytes() == 0, "the eight records not visited went back too")
        // Walking a batch twice sees the same records.
        _ = try program.testRun(data: testPacket, repeat: 3)
        let twice = try await reader.withNextBatch { batch in
            (batch.map { $0.load(as: TestEvent.self)?.sequence ?? 0 }, batch.map { $0.load(as: TestEvent.self)?.sequence ?? 0 })
        }
        #expect(twice?.0 == [11, 12, 13] && twice?.1 == [11, 12, 13])
        reader.close()
    }

    struct ForgeFailed: Error {}

    /// A ring of 4096 bytes in anonymous memory, holding `records` from position 0 (no wrap),
    /// watched through an eventfd: a ring the kernel would never write.
    private func forgedRing(_ name: String, records: [(length: UInt32, discarded: Bool, fill: UInt8)]) throws -> RingMapping {
        let size = 4096
        let anywhere = UnsafeMutableRawPointer(bitPattern: -1)
        let consumer = mmap(nil, systemPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let consumer, consumer != anywhere else { throw ForgeFailed() }
        let producer = mmap(nil, systemPageSize + 2 * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let producer, producer != anywhere else {
            munmap(consumer, systemPageSize)
            throw ForgeFailed()
        }
        // EFD_CLOEXEC is O_CLOEXEC.
        guard case .success(let descriptor) = SystemCalls.eventfd(initialValue: 0, flags: O_CLOEXEC) else {
            munmap(consumer, systemPageSize)
            munmap(producer, systemPageSize + 2 * size)
            throw ForgeFailed()
        }
        let mapping = RingMapping(forgedName: name, descriptor: descriptor, consumerPage: consumer, producerRegion: producer, size: UInt64(size))
        var position = 0
        for record in records {
            let word = record.length | (record.discarded ? RingBufferHeader.discardBit : 0)
            mapping.data.storeBytes(of: word, toByteOffset: position, as: UInt32.self)
            for index in 0..<Int(record.length) {
                mapping.data.storeBytes(of: record.fill &+ UInt8(truncatingIfNeeded: index), toByteOffset: position + 8 + index, as: UInt8.self)
            }
            position += Int(RingBufferHeader.footprint(record.length))
        }
        mapping.producerPosition.storeBytes(of: UInt64(position), as: UInt64.self)
        return mapping
    }

    @Test func recordsLongerThanTheInlineCapacityAndEmptyOnesComeOutWhole() async throws {
        let long = UInt32(RingBufferRecord.inlineCapacity + 57)
        let mapping = try forgedRing(
            "forged_sizes",
            records: [(long, false, 1), (0, false, 0), (5, true, 9), (UInt32(RingBufferRecord.inlineCapacity), false, 3), (3, false, 7)])
        let reader = try RingBufferReader(mappings: [mapping])
        var iterator = reader.records.makeAsyncIterator()
        var records: [RingBufferRecord] = []
        for _ in 0..<4 { records.append(try #require(try await iterator.next())) }
        #expect(records.map(\.count) == [Int(long), 0, RingBufferRecord.inlineCapacity, 3], "the discarded record is skipped")
        #expect(records[0].bytes == ArraySlice((0..<Int(long)).map { UInt8(truncatingIfNeeded: 1 + $0) }))
        #expect(records[2].bytes == ArraySlice((0..<RingBufferRecord.inlineCapacity).map { UInt8(truncatingIfNeeded: 3 + $0) }))
        #expect(records[3].withUnsafeBytes { Array($0) } == [7, 8, 9])
        #expect(records[3] == RingBufferRecord(ring: 0, bytes: [7, 8, 9]))
        #expect(records[0] == RingBufferRecord(ring: 0, bytes: records[0].bytes), "inline or not, equal bytes are equal")
        #expect(Set([records[3], RingBufferRecord(ring: 0, bytes: [7, 8, 9])]).count == 1)
        #expect(reader.pendingBytes() == 0)
        reader.close()
    }

    @Test func aCorruptHeaderInsideABatchEndsItWithAnErrorAfterTheRecordsBeforeIt() async throws {
        // Two good records, then a header whose record would end past the producer position.
        let mapping = try forgedRing("forged_mid", records: [(8, false, 1), (8, false, 2), (64, false, 3)])
        let corruptAt = 2 * Int(RingBufferHeader.footprint(8))
        mapping.producerPosition.storeBytes(of: UInt64(corruptAt + 16), as: UInt64.self)
        let reader = try RingBufferReader(mappings: [mapping])
        let expected = ReaderError.corruptRecord(map: "forged_mid", position: UInt64(corruptAt), length: 64, ringSize: 4096)
        #expect(reader.pendingBytes() == corruptAt + 16)
        var seen: [UInt8] = []
        await #expect(throws: expected) {
            try await reader.withNextBatch { batch in
                for record in batch { seen.append(record.bytes[0]) }
            }
        }
        #expect(seen == [1, 2], "the records before the corrupt header were lent")
        #expect(reader.pendingBytes() == 16, "their space went back; the corrupt header stays")

        // The records sequence stops at the same header with the same error.
        var records = reader.records.makeAsyncIterator()
        await #expect(throws: expected) { try await records.next() }
        reader.close()
    }
}

@Suite("Ring buffer records")
struct RingBufferRecordTests {
    @Test func shortRecordsAreKeptInlineLongOnesInAnArray() {
        let short = RingBufferRecord(ring: 1, bytes: [1, 2, 3])
        #expect(short.storage.isInline)
        #expect(short.bytes == [1, 2, 3] && short.count == 3)
        let longBytes = (0..<(RingBufferRecord.inlineCapacity + 1)).map { UInt8(truncatingIfNeeded: $0) }
        var long = RingBufferRecord(ring: 1, bytes: longBytes)
        #expect(!long.storage.isInline)
        #expect(long.bytes == longBytes[...])
        #expect(long.decode(as: UInt32.self) == 0x0302_0100)
        #expect(long.bytes(after: UInt64.self) == longBytes[8...])
        long.bytes = [4, 5]
        #expect(long.storage.isInline && long.bytes == [4, 5] && long.decode(as: UInt32.self) == nil)
        #expect(long != short && long == RingBufferRecord(ring: 1, bytes: [4, 5]))
        #expect(RingBufferRecord(ring: 0, bytes: []).bytes.isEmpty)
        #expect(short.bytes(after: UInt64.self).isEmpty)
    }
}
