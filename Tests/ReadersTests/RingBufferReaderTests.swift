import EBPFASM
import EBPFCollection
@testable import EBPFReaders
import Glibc
import Synchronization
import Testing
import TestSupport

@Suite("Ring buffer reader", .checksFileDescriptorLeaks, .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
struct RingBufferReaderTests {
    @Test func readsEveryRecordInOrder() throws {
        let ring = try ringBufferMap(size: 16384)
        let counter = try counterMap()
        let program = try ringbufOutputProgram(ring: ring, counter: counter)
        let reader = try RingBufferReader(ring)
        #expect(reader.bufferSize() == 16384)
        #expect(reader.pendingBytes() == 0)

        let run = try program.testRun(data: testPacket, repeat: 100)
        #expect(run.returnValue == 0)
        // 100 records of 16 bytes behind an 8-byte header each.
        #expect(reader.pendingBytes() == 100 * 24)

        var sequences: [UInt64] = []
        for _ in 0..<100 {
            let record = try reader.read(timeout: .seconds(5))
            #expect(record.ring == 0)
            #expect(record.bytes.count == 16)
            let event = try #require(record.decode(as: TestEvent.self))
            #expect(event.marker == recordMarker)
            sequences.append(event.sequence)
        }
        #expect(sequences == Array(1...100))
        #expect(reader.pendingBytes() == 0)
        #expect(throws: ReaderError.timedOut) { try reader.read(timeout: .milliseconds(20)) }
        reader.close()
        #expect(throws: ReaderError.closed) { try reader.read(timeout: .milliseconds(20)) }
        #expect(reader.pendingBytes() == 0)
    }

    @Test func skipsDiscardedRecordsAndReadsInPlace() throws {
        let ring = try ringBufferMap(size: 4096)
        let counter = try counterMap()
        let program = try ringbufReserveProgram(ring: ring, counter: counter)
        let reader = try RingBufferReader(ring)
        #expect(try program.testRun(data: testPacket, repeat: 40).returnValue == 0)

        var sequences: [UInt64] = []
        let consumed = try reader.consume { view in
            if let event = view.load(as: TestEvent.self), event.marker == recordMarker {
                sequences.append(event.sequence)
            }
        }
        #expect(consumed == 20)
        #expect(sequences == Array(stride(from: 2, through: 40, by: 2)))
        #expect(try reader.consume { _ in } == 0)

        // Fill the ring past its capacity: the program sees the full ring (its reserve fails),
        // and every record that got in comes out.
        let capacity = 4096 / 24
        let full = try program.testRun(data: testPacket, repeat: UInt32(capacity * 3))
        #expect(full.returnValue == 2, "the last reservations fail on the full ring")
        var received = 0
        try reader.consume { _ in received += 1 }
        #expect(received > 0 && received <= capacity)
    }

    @Test func zeroCopyBodyAndErrorsFromIt() throws {
        struct HandlerFailed: Error {}
        let ring = try ringBufferMap()
        let counter = try counterMap()
        let program = try ringbufOutputProgram(ring: ring, counter: counter)
        let reader = try RingBufferReader(ring)
        _ = try program.testRun(data: testPacket, repeat: 2)
        let first = try reader.readRecord(deadline: .now.advanced(by: .seconds(5))) { view in
            view.bytes.loadUnaligned(as: UInt64.self)
        }
        #expect(first == 1)
        #expect(throws: HandlerFailed.self) {
            try reader.readRecord { _ in throw HandlerFailed() }
        }
        // A record whose handler threw is still consumed.
        #expect(throws: ReaderError.timedOut) { try reader.read(timeout: .milliseconds(10)) }
    }

    @Test func severalRingsOnOneReader() throws {
        let rings = try (0..<3).map { try ringBufferMap("ring\($0)") }
        let counters = try (0..<3).map { _ in try counterMap() }
        let programs = try (0..<3).map { try ringbufOutputProgram(ring: rings[$0], counter: counters[$0]) }
        let reader = try RingBufferReader(maps: rings)
        #expect(reader.mapNames == ["ring0", "ring1", "ring2"])
        for (index, program) in programs.enumerated() {
            _ = try program.testRun(data: testPacket, repeat: UInt32(index + 2))
        }
        var perRing: [Int: [UInt64]] = [:]
        for _ in 0..<(2 + 3 + 4) {
            let record = try reader.read(timeout: .seconds(5))
            perRing[record.ring, default: []].append(try #require(record.decode(as: TestEvent.self)).sequence)
        }
        #expect(perRing[0] == [1, 2])
        #expect(perRing[1] == [1, 2, 3])
        #expect(perRing[2] == [1, 2, 3, 4])
        #expect(throws: ReaderError.timedOut) { try reader.read(timeout: .milliseconds(10)) }
    }

    @Test func waitingReadWakesForNewRecordAndForClose() async throws {
        let ring = try ringBufferMap()
        let counter = try counterMap()
        let program = try ringbufOutputProgram(ring: ring, counter: counter)
        let reader = try RingBufferReader(ring)

        let waiting = Task { await offPool { Result { () throws(ReaderError) in try reader.read(timeout: .seconds(10)) } } }
        await pause(milliseconds: 50)
        _ = try program.testRun(data: testPacket)
        let record = try await waiting.value.get()
        #expect(record.decode(as: TestEvent.self)?.sequence == 1)

        let blocked = Task {
            await offPool { () -> ReaderError? in
                do throws(ReaderError) {
                    _ = try reader.read()
                    return nil
                } catch {
                    return error
                }
            }
        }
        await pause(milliseconds: 50)
        let started = ContinuousClock.now
        reader.close()
        #expect(await blocked.value == .closed)
        #expect(started.duration(to: .now) < .seconds(2))
    }

    @Test func concurrentReadsAreRefused() async throws {
        let reader = try RingBufferReader(try ringBufferMap())
        let blocked = Task { await offPool { try? reader.read(timeout: .seconds(10)) } }
        await pause(milliseconds: 50)
        #expect(throws: ReaderError.concurrentRead) { try reader.read(timeout: .milliseconds(1)) }
        reader.close()
        _ = await blocked.value
    }

    @Test func asyncSequenceDeliversInOrderAndEndsOnClose() async throws {
        let ring = try ringBufferMap(size: 65536)
        let counter = try counterMap()
        let program = try ringbufOutputProgram(ring: ring, counter: counter)
        let reader = try RingBufferReader(ring)
        _ = try program.testRun(data: testPacket, repeat: 10)

        let consumer = Task {
            var sequences: [UInt64] = []
            for try await record in reader.records {
                sequences.append(record.decode(as: TestEvent.self)?.sequence ?? 0)
            }
            return sequences
        }
        await pause(milliseconds: 50)
        _ = try program.testRun(data: testPacket, repeat: 5)  // arrives while the sequence waits
        await pause(milliseconds: 100)
        reader.close()
        #expect(try await consumer.value == Array(1...15))
    }

    @Test func cancellingTheIteratingTaskEndsTheSequence() async throws {
        let reader = try RingBufferReader(try ringBufferMap())
        let consumer = Task {
            var count = 0
            for try await _ in reader.records { count += 1 }
            return count
        }
        await pause(milliseconds: 50)
        consumer.cancel()
        #expect(try await consumer.value == 0)
        // The reader is still usable after the cancelled iteration.
        #expect(throws: ReaderError.timedOut) { try reader.read(timeout: .milliseconds(5)) }
    }

    @Test func droppedMidIterationLeavesNothingOpen() async throws {
        let ring = try ringBufferMap()
        let counter = try counterMap()
        let program = try ringbufOutputProgram(ring: ring, counter: counter)
        _ = try program.testRun(data: testPacket, repeat: 5)
        do {
            let reader = try RingBufferReader(ring)
            var iterator = reader.records.makeAsyncIterator()
            let first = try await iterator.next()
            #expect(first?.decode(as: TestEvent.self)?.sequence == 1)
        }
        // The reader and its iterator are gone; the suite's leak check sees every descriptor closed.
        // A new reader continues where the old one stopped: the consumer position is the kernel's.
        let again = try RingBufferReader(ring)
        #expect(try again.read(timeout: .seconds(1)).decode(as: TestEvent.self)?.sequence == 2)
    }

    @Test func wrongMapsAreRefused() throws {
        let array = try counterMap()
        #expect(throws: ReaderError.wrongMapType(map: "counter", found: .array, expected: .ringbuf)) {
            try RingBufferReader(array)
        }
        #expect(throws: ReaderError.noMaps) { try RingBufferReader(maps: []) }
    }

    @Test func corruptLengthIsAnErrorNotACrash() throws {
        // User space cannot write a kernel ring's producer pages, but a user ring buffer has the
        // same layout with those pages writable: forge a header claiming more than the ring holds
        // there and point the consumer logic at it.
        let user = try Map(spec: MapSpec(name: "forged", type: .userRingbuf, keySize: 0, valueSize: 0, maxEntries: 4096))
        let mapping = try RingMapping(map: user, type: .userRingbuf, userProduces: true)
        mapping.data.storeBytes(of: UInt32(5000), as: UInt32.self)
        mapping.producerPosition.storeBytes(of: UInt64(8), as: UInt64.self)
        let reader = try RingBufferReader(mappings: [mapping])
        #expect(throws: ReaderError.corruptRecord(map: "forged", position: 0, length: 5000, ringSize: 4096)) {
            try reader.read(timeout: .milliseconds(100))
        }
        reader.close()
    }
}
