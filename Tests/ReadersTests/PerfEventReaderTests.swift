import EBPFASM
import EBPFCollection
import EBPFSys
@testable import EBPFReaders
import Glibc
import Testing
import TestSupport

/// What the perf test program sends: its sequence number and the CPU it ran on.
struct PerfTestSample: BitwiseCopyable, Equatable {
    var sequence: UInt64
    var cpu: UInt64
}

/// A ``PerfTestSample`` behind a copy of its sequence number: 24 bytes, so that records (40 bytes
/// in the ring) straddle the end of a one-page ring.
struct MarkedPerfTestSample: BitwiseCopyable, Equatable {
    var marker: UInt64
    var sequence: UInt64
    var cpu: UInt64
}

@Suite("Perf event reader", .checksFileDescriptorLeaks, .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
struct PerfEventReaderTests {
    static func perfMap() throws -> Map {
        try Map(
            spec: MapSpec(
                name: "perf_events", type: .perfEventArray, keySize: 4, valueSize: 4,
                maxEntries: UInt32(try PossibleCPUs.count())))
    }

    /// A socket filter sending a ``PerfTestSample`` with `bpf_perf_event_output` (helper 25) to
    /// the current CPU's ring (`BPF_F_CURRENT_CPU`); returns the helper's result.
    ///
    /// With `marked`, the sample is a ``MarkedPerfTestSample`` (24 bytes) instead.
    static func perfOutputProgram(events: Map, counter: Map, marked: Bool = false) throws -> Program {
        var builder = ProgramBuilder()
        try appendCounterIncrement(to: &builder, counter: counter)
        let eventsFD = try descriptor(of: events)
        let size: Int32 = marked ? 24 : 16
        builder.append(contentsOf: [
            .store(.r7, to: .r10, offset: -16, size: .doubleWord),
            .store(.r7, to: .r10, offset: -24, size: .doubleWord),
            .callHelper(8),  // bpf_get_smp_processor_id
            .store(.r0, to: .r10, offset: -8, size: .doubleWord),
            .mov64(.r1, .r6),
            .loadMapPointer(.r2, fileDescriptor: eventsFD),
            .mov32(.r3, -1),  // BPF_F_CURRENT_CPU, zero-extended: no context bytes requested
            .mov64(.r4, .r10),
            .add64(.r4, -size),
            .mov64(.r5, size),
            .callHelper(25),  // bpf_perf_event_output
            .exit(),
        ])
        return try Program(spec: ProgramSpec(name: "perf_output", type: .socketFilter, instructions: builder.build()))
    }

    /// Runs `program` `count` times on a thread bound to CPU 0, so every sample lands in one ring.
    static func runOnCPU0(_ program: Program, count: UInt32) async throws -> Int32 {
        try await offPool { () -> Result<Int32, any Error> in
            Result {
                try bindCurrentThreadToCPU0()
                return Int32(bitPattern: try program.testRun(data: testPacket, repeat: count).returnValue)
            }
        }.get()
    }

    /// The calling thread could not be bound to CPU 0.
    struct CPUAffinityError: Error, CustomStringConvertible {
        var description: String
    }

    /// `sched_setaffinity` for the calling thread. Glibc declares it only under `_GNU_SOURCE`,
    /// which the Swift module does not set, so the test looks it up by name.
    static func bindCurrentThreadToCPU0() throws(CPUAffinityError) {
        typealias SetAffinity = @convention(c) (Int32, Int, UnsafeRawPointer) -> Int32
        guard let symbol = dlsym(nil, "sched_setaffinity") else {
            throw CPUAffinityError(description: "dlsym found no sched_setaffinity")
        }
        let setAffinity = unsafeBitCast(symbol, to: SetAffinity.self)
        var mask = (UInt64(1), UInt64(0), UInt64(0), UInt64(0))
        let status = withUnsafeBytes(of: &mask) { bytes in
            bytes.baseAddress.map { setAffinity(0, bytes.count, $0) } ?? -1
        }
        if status != 0 {
            throw CPUAffinityError(description: "sched_setaffinity to CPU 0 failed: errno \(errno)")
        }
    }

    @Test func samplesArriveWithTheirCPU() throws {
        let events = try Self.perfMap()
        let counter = try counterMap()
        let program = try Self.perfOutputProgram(events: events, counter: counter)
        let reader = try PerfEventReader(events)
        #expect(reader.cpus == Array(0..<(try PossibleCPUs.count())))
        #expect(reader.perCPUBufferSize == 64 * 1024)
        #expect(try program.testRun(data: testPacket, repeat: 50).returnValue == 0)

        var samples: [PerfTestSample] = []
        for _ in 0..<50 {
            let record = try reader.read(timeout: .seconds(5))
            #expect(record.lostSamples == 0)
            // 16 bytes behind a 4-byte size, padded to 8: the kernel reports 20.
            #expect(record.bytes.count == 20)
            let sample = try #require(record.decode(as: PerfTestSample.self))
            #expect(Int(sample.cpu) == record.cpu)
            samples.append(sample)
        }
        #expect(samples.map(\.sequence).sorted() == Array(1...50))
        for cpu in Set(samples.map(\.cpu)) {
            let sequences = samples.filter { $0.cpu == cpu }.map(\.sequence)
            #expect(sequences == sequences.sorted(), "one CPU's samples arrive in order")
        }
        #expect(throws: ReaderError.timedOut) { try reader.read(timeout: .milliseconds(20)) }
        for cpu in reader.cpus { #expect(reader.pendingBytes(cpu: cpu) == 0) }
    }

    @Test func fullRingReportsLostSamples() async throws {
        let events = try Self.perfMap()
        let counter = try counterMap()
        let program = try Self.perfOutputProgram(events: events, counter: counter)
        let reader = try PerfEventReader(events, options: PerfReaderOptions(perCPUBufferSize: 4096))
        #expect(reader.perCPUBufferSize == 4096)
        // Each sample takes 32 bytes (8 header, 4 size, 16 data, 4 padding). The kernel keeps one
        // byte of a forward ring free to tell full from empty, so 127 fit, not 128.
        let result = try await Self.runOnCPU0(program, count: 300)
        #expect(result == -Errno.noSpace.rawValue, "the last outputs find the ring full")
        #expect(reader.pendingBytes(cpu: 0) == 127 * 32)
        var sequences: [UInt64] = []
        try reader.consume { view in
            #expect(view.cpu == 0)
            if let sample = view.load(as: PerfTestSample.self) { sequences.append(sample.sequence) }
        }
        #expect(sequences == Array(1...127))
        // The kernel reports the loss with the next sample that fits.
        _ = try await Self.runOnCPU0(program, count: 1)
        let lost = try reader.read(timeout: .seconds(5))
        #expect(lost.lostSamples == 173)
        #expect(lost.bytes.isEmpty)
        let next = try reader.read(timeout: .seconds(5))
        #expect(next.decode(as: PerfTestSample.self)?.sequence == 301)
    }

    @Test func consumeHandsOutRecordsThatWrapAroundTheRingsEnd() async throws {
        let events = try Self.perfMap()
        let counter = try counterMap()
        let program = try Self.perfOutputProgram(events: events, counter: counter, marked: true)
        let reader = try PerfEventReader(events, options: PerfReaderOptions(perCPUBufferSize: 4096))
        // 40 bytes a record (8 header, 4 size, 24 data, 4 padding): after 100 records the tail is
        // at 4000, and the 103rd record of the ring lies across its end (4080 to 4120).
        var samples: [MarkedPerfTestSample] = []
        for round in 0..<2 {
            #expect(try await Self.runOnCPU0(program, count: 100) == 0)
            let count = try reader.consume { view in
                #expect(view.cpu == 0)
                #expect(view.bytes.count == 28)
                if let sample = view.load(as: MarkedPerfTestSample.self) { samples.append(sample) }
            }
            #expect(count == 100, "round \(round)")
        }
        #expect(samples.map(\.sequence) == Array(1...200))
        #expect(samples.allSatisfy { $0.marker == $0.sequence && $0.cpu == 0 }, "wrapped records are copied whole")
        #expect(reader.pendingBytes(cpu: 0) == 0)
    }

    @Test func aHeadBeyondWhatWasWrittenIsAnErrorNotACrash() async throws {
        // The kernel refuses user writes to a ring's data pages (SIGBUS), but data_head sits on
        // the writable first page: claim less or more than the kernel wrote.
        let events = try Self.perfMap()
        let counter = try counterMap()
        let program = try Self.perfOutputProgram(events: events, counter: counter)
        let reader = try PerfEventReader(events, options: PerfReaderOptions(perCPUBufferSize: 4096))
        let ring = try #require(reader.rings.first { $0.cpu == 0 })
        #expect(try await Self.runOnCPU0(program, count: 1) == 0)
        func claimHead(_ head: UInt64) {
            ring.base.storeBytes(of: head, toByteOffset: PerfMetadataPage.dataHead, as: UInt64.self)
        }
        func corrupt(position: UInt64, length: UInt64) -> ReaderError {
            .corruptRecord(map: "perf_events", position: position, length: length, ringSize: 4096)
        }
        // Half of the one 32-byte record.
        claimHead(16)
        #expect(throws: corrupt(position: 0, length: 32)) { try reader.consume { _ in } }
        // The record and 8 bytes the kernel never wrote (zeros: a length of 0). The record
        // before the bad one is handed out and given back.
        claimHead(40)
        var sequences: [UInt64] = []
        #expect(throws: corrupt(position: 32, length: 0)) {
            try reader.consume { sequences.append($0.load(as: PerfTestSample.self)?.sequence ?? 0) }
        }
        #expect(sequences == [1])
        #expect(ring.base.load(fromByteOffset: PerfMetadataPage.dataTail, as: UInt64.self) == 32)
        reader.close()
    }

    @Test func overwritableRingsKeepTheNewestRecords() async throws {
        let events = try Self.perfMap()
        let counter = try counterMap()
        let program = try Self.perfOutputProgram(events: events, counter: counter)
        let reader = try PerfEventReader(events, options: PerfReaderOptions(perCPUBufferSize: 4096, overwritable: true))
        #expect(try await Self.runOnCPU0(program, count: 300) == 0, "an overwritable ring is never full")
        var sequences: [UInt64] = []
        try reader.consume { view in
            if let sample = view.load(as: PerfTestSample.self) { sequences.append(sample.sequence) }
        }
        #expect(sequences == Array((173...300).reversed()), "newest first, the oldest overwritten")
        #expect(try reader.consume { _ in } == 0, "nothing new since the last read")
        _ = try await Self.runOnCPU0(program, count: 2)
        let newest = try reader.read(timeout: .seconds(5))
        #expect(newest.decode(as: PerfTestSample.self)?.sequence == 302)
        #expect(try reader.read(timeout: .seconds(5)).decode(as: PerfTestSample.self)?.sequence == 301)
        #expect(throws: ReaderError.timedOut) { try reader.read(timeout: .milliseconds(10)) }
    }

    @Test func pauseRemovesTheEventsAndResumePutsThemBack() throws {
        let events = try Self.perfMap()
        let counter = try counterMap()
        let program = try Self.perfOutputProgram(events: events, counter: counter)
        let reader = try PerfEventReader(events)
        try reader.pause()
        #expect(Int32(bitPattern: try program.testRun(data: testPacket).returnValue) == -Errno.noSuchFileOrDirectory.rawValue)
        #expect(throws: ReaderError.timedOut) { try reader.read(timeout: .milliseconds(10)) }
        try reader.resume()
        #expect(try program.testRun(data: testPacket).returnValue == 0)
        #expect(try reader.read(timeout: .seconds(5)).decode(as: PerfTestSample.self)?.sequence == 2)
        reader.close()
        #expect(throws: ReaderError.closed) { try reader.pause() }
        // Closing took the events out of the map again.
        #expect(Int32(bitPattern: try program.testRun(data: testPacket).returnValue) == -Errno.noSuchFileOrDirectory.rawValue)
    }

    @Test func closeEndsAWaitingReadAndTheSequence() async throws {
        let events = try Self.perfMap()
        let counter = try counterMap()
        let program = try Self.perfOutputProgram(events: events, counter: counter)
        let reader = try PerfEventReader(events)
        _ = try program.testRun(data: testPacket, repeat: 3)
        let consumer = Task {
            var sequences: [UInt64] = []
            for try await record in reader.records {
                sequences.append(record.decode(as: PerfTestSample.self)?.sequence ?? 0)
            }
            return sequences
        }
        await pause(milliseconds: 50)
        _ = try program.testRun(data: testPacket, repeat: 2)
        await pause(milliseconds: 100)
        reader.close()
        #expect(try await consumer.value.sorted() == [1, 2, 3, 4, 5])

        let other = try PerfEventReader(events)
        let blocked = Task {
            await offPool { () -> ReaderError? in
                do throws(ReaderError) {
                    _ = try other.read()
                    return nil
                } catch {
                    return error
                }
            }
        }
        await pause(milliseconds: 50)
        other.close()
        #expect(await blocked.value == .closed)
    }

    @Test func wrongMapTypeIsRefused() throws {
        let ring = try ringBufferMap()
        #expect(throws: ReaderError.wrongMapType(map: "events", found: .ringbuf, expected: .perfEventArray)) {
            try PerfEventReader(ring)
        }
    }

    @Test func ringSizesArePowersOfTwoPages() {
        #expect(PerfEventReader.dataPages(for: 1) == 1)
        #expect(PerfEventReader.dataPages(for: 4096) == 1)
        #expect(PerfEventReader.dataPages(for: 4097) == 2)
        #expect(PerfEventReader.dataPages(for: 5 * 4096) == 8)
    }
}
