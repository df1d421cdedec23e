import EBPFCollection
@testable import EBPFReaders
import Testing
import TestSupport

@Suite("Ring buffer batches", .checksFileDescriptorLeaks, .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
struct RingBufferBatchesTests {
    @Test func batchesDeliverInOrderAndEndOnClose() async throws {
        let ring = try ringBufferMap(size: 65536)
        let counter = try counterMap()
        let program = try ringbufOutputProgram(ring: ring, counter: counter)
        let reader = try RingBufferReader(ring)
        _ = try program.testRun(data: testPacket, repeat: 10)

        let consumer = Task {
            var sizes: [Int] = []
            var events: [TestEvent] = []
            for try await batch in reader.batches {
                sizes.append(batch.count)
                for record in batch {
                    #expect(record.ring == 0)
                    #expect(record.bytes.count == 16)
                    events.append(record.decode(as: TestEvent.self) ?? TestEvent(sequence: 0, marker: 0))
                }
            }
            return (sizes, events)
        }
        await pause(milliseconds: 50)
        _ = try program.testRun(data: testPacket, repeat: 5)  // arrives while the sequence waits
        await pause(milliseconds: 100)
        reader.close()
        let (sizes, events) = try await consumer.value
        // What was in the ring when the iteration started is one batch; the later records come
        // in as many batches as wake-ups happened while the test run was still writing them.
        #expect(sizes.first == 10, "the records present at the start are one batch")
        #expect(sizes.dropFirst().reduce(0, +) == 5 && !sizes.contains(0), "then the later ones, in non-empty batches: \(sizes)")
        #expect(events.map(\.sequence) == Array(1...15))
        #expect(events.allSatisfy { $0.marker == recordMarker })
    }

    @Test func batchesSkipDiscardedRecordsAndGiveTheSpaceBack() async throws {
        let ring = try ringBufferMap(size: 4096)
        let counter = try counterMap()
        let program = try ringbufReserveProgram(ring: ring, counter: counter)
        let reader = try RingBufferReader(ring)
        // 41 runs: the odd ones, the last included, are discarded.
        #expect(try program.testRun(data: testPacket, repeat: 41).returnValue == 0)

        var iterator = reader.batches.makeAsyncIterator()
        let batch = try #require(try await iterator.next())
        #expect(batch.compactMap { $0.decode(as: TestEvent.self)?.sequence } == Array(stride(from: 2, through: 40, by: 2)))
        // Handing the batch out gave back its space, the trailing discarded record's too.
        #expect(reader.pendingBytes() == 0)
        // The iteration owns the reader until it is dropped.
        #expect(throws: ReaderError.concurrentRead) { try reader.read(timeout: .milliseconds(1)) }
    }

    @Test func aBatchStaysValidAfterLaterBatches() async throws {
        let ring = try ringBufferMap(size: 65536)
        let counter = try counterMap()
        let program = try ringbufOutputProgram(ring: ring, counter: counter)
        let reader = try RingBufferReader(ring)
        var iterator = reader.batches.makeAsyncIterator()
        _ = try program.testRun(data: testPacket, repeat: 3)
        let first = try #require(try await iterator.next())
        _ = try program.testRun(data: testPacket, repeat: 4)
        let second = try #require(try await iterator.next())
        #expect(first.map { $0.decode(as: TestEvent.self)?.sequence } == [1, 2, 3])
        #expect(second.map { $0.decode(as: TestEvent.self)?.sequence } == [4, 5, 6, 7])
        #expect(Array(second.indices) == [0, 1, 2, 3])
        #expect(second[2].decode(as: TestEvent.self)?.sequence == 6)
    }

    @Test func batchesFromSeveralRings() async throws {
        let rings = try (0..<3).map { try ringBufferMap("ring\($0)") }
        let counters = try (0..<3).map { _ in try counterMap() }
        let programs = try (0..<3).map { try ringbufOutputProgram(ring: rings[$0], counter: counters[$0]) }
        let reader = try RingBufferReader(maps: rings)
        for (index, program) in programs.enumerated() {
            _ = try program.testRun(data: testPacket, repeat: UInt32(index + 2))
        }
        var iterator = reader.batches.makeAsyncIterator()
        let batch = try #require(try await iterator.next())
        var perRing: [Int: [UInt64]] = [:]
        for record in batch {
            perRing[record.ring, default: []].append(try #require(record.decode(as: TestEvent.self)).sequence)
        }
        #expect(batch.map(\.ring) == [0, 0, 1, 1, 1, 2, 2, 2, 2], "ring by ring, each in order")
        #expect(perRing[0] == [1, 2])
        #expect(perRing[1] == [1, 2, 3])
        #expect(perRing[2] == [1, 2, 3, 4])
        for index in 0..<3 { #expect(reader.pendingBytes(ring: index) == 0) }
    }

    @Test func cancellingTheIteratingTaskEndsTheBatches() async throws {
        let reader = try RingBufferReader(try ringBufferMap())
        let consumer = Task {
            var count = 0
            for try await batch in reader.batches { count += batch.count }
            return count
        }
        await pause(milliseconds: 50)
        consumer.cancel()
        #expect(try await consumer.value == 0)
        // The reader is still usable after the cancelled iteration.
        #expect(throws: ReaderError.timedOut) { try reader.read(timeout: .milliseconds(5)) }
    }

    @Test func closeWhileWaitingEndsTheBatches() async throws {
        let reader = try RingBufferReader(try ringBufferMap())
        let consumer = Task {
            var count = 0
            for try await batch in reader.batches { count += batch.count }
            return count
        }
        await pause(milliseconds: 50)
        let started = ContinuousClock.now
        reader.close()
        #expect(try await consumer.value == 0)
        #expect(started.duration(to: .now) < .seconds(2))
        var iterator = reader.batches.makeAsyncIterator()
        #expect(try await iterator.next() == nil, "a closed reader's sequence is empty")
    }

    @Test func droppedMidIterationLeavesNothingOpen() async throws {
        let ring = try ringBufferMap()
        let counter = try counterMap()
        let program = try ringbufOutputProgram(ring: ring, counter: counter)
        _ = try program.testRun(data: testPacket, repeat: 5)
        do {
            let reader = try RingBufferReader(ring)
            var iterator = reader.batches.makeAsyncIterator()
            let first = try await iterator.next()
            #expect(first?.count == 5)
        }
        // The reader and its iterator are gone; the suite's leak check sees every descriptor closed.
        // The batch handed out was consumed: a new reader starts after it.
        _ = try program.testRun(data: testPacket, repeat: 1)
        let again = try RingBufferReader(ring)
        #expect(try again.read(timeout: .seconds(1)).decode(as: TestEvent.self)?.sequence == 6)
    }

    @Test func recordsSkipDiscardedOnesAcrossBatches() async throws {
        let ring = try ringBufferMap(size: 4096)
        let counter = try counterMap()
        let program = try ringbufReserveProgram(ring: ring, counter: counter)
        let reader = try RingBufferReader(ring)
        #expect(try program.testRun(data: testPacket, repeat: 41).returnValue == 0)
        var iterator = reader.records.makeAsyncIterator()
        var sequences: [UInt64] = []
        for _ in 0..<20 {
            sequences.append(try #require(try await iterator.next()?.decode(as: TestEvent.self)).sequence)
        }
        #expect(sequences == Array(stride(from: 2, through: 40, by: 2)))
        // Handed out one by one: only the trailing discarded record is still in the ring.
        #expect(reader.pendingBytes() == 24)
        _ = try program.testRun(data: testPacket, repeat: 2)
        // The new batch starts past the old trailing discard; it has one of its own (run 43).
        #expect(try await iterator.next()?.decode(as: TestEvent.self)?.sequence == 42)
        #expect(reader.pendingBytes() == 24)
    }
}
