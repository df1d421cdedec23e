import EBPFCollection
@testable import EBPFReaders
import Testing
import TestSupport

@Suite("Ring buffer scoped batches", .checksFileDescriptorLeaks, .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
struct RingBufferScopedBatchTests {
    @Test func aBatchLendsEveryRecordInPlaceAndGivesTheSpaceBackAfterTheClosure() async throws {
        let ring = try ringBufferMap(size: 65536)
        let counter = try counterMap()
        let program = try ringbufOutputProgram(ring: ring, counter: counter)
        let reader = try RingBufferReader(ring)
        _ = try program.testRun(data: testPacket, repeat: 10)

        let sequences = try await reader.withNextBatch { batch -> [UInt64] in
            #expect(batch.ring == 0)
            #expect(batch.count == 10)
            // Lent, not copied: the space is still the reader's while the closure runs.
            #expect(reader.pendingBytes() == 10 * 24)
            return batch.map { record in
                #expect(record.bytes.count == 16)
                return record.load(as: TestEvent.self)?.sequence ?? 0
            }
        }
        #expect(sequences == Array(1...10))
        #expect(reader.pendingBytes() == 0, "the batch's space goes back when the closure returns")

        // The next call waits for the next records; they arrive while it waits.
        let waiting = Task { try await reader.withNextBatch { batch in batch.map { $0.load(as: TestEvent.self)?.sequence ?? 0 } } }
        await pause(milliseconds: 50)
        _ = try program.testRun(data: testPacket, repeat: 3)
        let later = try #require(try await waiting.value)
        #expect(later.first == 11 && later.allSatisfy { (11...13).contains($0) })
        reader.close()
        #expect(try await reader.withNextBatch { $0.count } == nil, "a closed reader lends nothing")
    }

    @Test func discardedRecordsAreSkippedAndGivenBack() async throws {
        let ring = try ringBufferMap(size: 4096)
        let counter = try counterMap()
        let program = try ringbufReserveProgram(ring: ring, counter: counter)
        let reader = try RingBufferReader(ring)
        // 41 runs: the odd ones, the last included, are discarded.
        #expect(try program.testRun(data: testPacket, repeat: 41).returnValue == 0)
        let sequences = try await reader.withNextBatch { batch in
            batch.compactMap { $0.load(as: TestEvent.self)?.sequence }
        }
        #expect(sequences == Array(stride(from: 2, through: 40, by: 2)))
        #expect(reader.pendingBytes() == 0, "the trailing discarded record went back with the batch")
    }

    @Test func ringsTakeTurnsOneRingPerBatch() async throws {
        let rings = try (0..<3).map { try ringBufferMap("ring\($0)") }
        let counters = try (0..<3).map { _ in try counterMap() }
        let programs = try (0..<3).map { try ringbufOutputProgram(ring: rings[$0], counter: counters[$0]) }
        let reader = try RingBufferReader(maps: rings)
        for (index, program) in programs.enumerated() {
            _ = try program.testRun(data: testPacket, repeat: UInt32(index + 2))
        }
        var perRing: [Int: [UInt64]] = [:]
        for _ in 0..<3 {
            let (ring, sequences) = try #require(
                try await reader.withNextBatch { batch in (batch.ring, batch.map { $0.load(as: TestEvent.self)?.sequence ?? 0 }) })
            #expect(perRing[ring] == nil, "each ring once")
            perRing[ring] = sequences
        }
        #expect(perRing[0] == [1, 2])
        #expect(perRing[1] == [1, 2, 3])
        #expect(perRing[2] == [1, 2, 3, 4])
        for index in 0..<3 { #expect(reader.pendingBytes(ring: index) == 0) }
    }

    @Test func anErrorFromTheClosureStillGivesTheBatchBack() async throws {
        struct HandlerFailed: Error {}
        let ring = try ringBufferMap()
        let counter = try counterMap()
        let program = try ringbufOutputProgram(ring: ring, counter: counter)
        let reader = try RingBufferReader(ring)
        _ = try program.testRun(data: testPacket, repeat: 4)
        await #expect(throws: HandlerFailed.self) {
            try await reader.withNextBatch { _ in throw HandlerFailed() }
        }
        #expect(reader.pendingBytes() == 0)
        // The slot is free again.
        #expect(throws: ReaderError.timedOut) { try reader.read(timeout: .milliseconds(5)) }
    }

    @Test func cancellingTheTaskEndsTheWaitPromptly() async throws {
        let reader = try RingBufferReader(try ringBufferMap())
        let waiting = Task { try await reader.withNextBatch { $0.count } }
        await pause(milliseconds: 50)
        let started = ContinuousClock.now
        waiting.cancel()
        #expect(try await waiting.value == nil)
        #expect(started.duration(to: .now) < .seconds(2))
        // The reader is still usable, and waits again on the same waiting thread.
        let again = Task { try await reader.withNextBatch { $0.count } }
        await pause(milliseconds: 20)
        again.cancel()
        #expect(try await again.value == nil)
        #expect(throws: ReaderError.timedOut) { try reader.read(timeout: .milliseconds(5)) }
    }

    @Test func closeWhileWaitingEndsTheWaitAndReleasesEverything() async throws {
        let reader = try RingBufferReader(try ringBufferMap())
        let waiting = Task { try await reader.withNextBatch { $0.count } }
        await pause(milliseconds: 50)
        let started = ContinuousClock.now
        reader.close()
        #expect(try await waiting.value == nil)
        #expect(started.duration(to: .now) < .seconds(2))
        // The suite's leak check sees the rings' and the poller's descriptors closed.
    }

    @Test func manyWakeUpsDeliverEveryRecordOnce() async throws {
        let ring = try ringBufferMap(size: 65536)
        let counter = try counterMap()
        let program = try ringbufOutputProgram(ring: ring, counter: counter)
        let reader = try RingBufferReader(ring)
        let consumer = Task {
            var sequences: [UInt64] = []
            while let batch = try await reader.withNextBatch({ batch in batch.map { $0.load(as: TestEvent.self)?.sequence ?? 0 } }) {
                sequences += batch
            }
            return sequences
        }
        for _ in 0..<20 {
            _ = try program.testRun(data: testPacket, repeat: 3)
            await pause(milliseconds: 5)
        }
        await pause(milliseconds: 50)
        reader.close()
        #expect(try await consumer.value == Array(1...60))
    }

    @Test func aRecordEndingPastTheProducerPositionIsAnError() async throws {
        // A user ring buffer has a kernel ring's layout with the producer pages writable: forge a
        // header whose length fits the ring but whose record ends past the producer position.
        let user = try Map(spec: MapSpec(name: "forged_end", type: .userRingbuf, keySize: 0, valueSize: 0, maxEntries: 4096))
        let mapping = try RingMapping(map: user, type: .userRingbuf, userProduces: true)
        mapping.data.storeBytes(of: UInt32(16), as: UInt32.self)
        mapping.producerPosition.storeBytes(of: UInt64(8), as: UInt64.self)
        let reader = try RingBufferReader(mappings: [mapping])
        let expected = ReaderError.corruptRecord(map: "forged_end", position: 0, length: 16, ringSize: 4096)
        #expect(throws: expected) { try reader.read(timeout: .milliseconds(100)) }
        #expect(throws: expected) { try reader.consume { _ in Issue.record("no record may come out") } }
        await #expect(throws: expected) { try await reader.withNextBatch { $0.count } }
        var records = reader.records.makeAsyncIterator()
        await #expect(throws: expected) { try await records.next() }
        reader.close()
    }
}
