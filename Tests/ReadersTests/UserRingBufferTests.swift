import EBPFASM
import EBPFCollection
@testable import EBPFReaders
import Testing
import TestSupport

@Suite("User ring buffer", .checksFileDescriptorLeaks, .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
struct UserRingBufferTests {
    /// A socket filter that drains the user ring buffer with `bpf_user_ringbuf_drain` (helper
    /// 209) through a callback subprogram adding each record's first 8 bytes (read with
    /// `bpf_dynptr_read`, helper 201) into a sum on the caller's stack, then stores the sum and the
    /// drained count in `results[0]`.
    static func drainProgram(ring: Map, results: Map) throws -> Program {
        let ringFD = try descriptor(of: ring)
        let resultsFD = try descriptor(of: results)
        let instructions = try ProgramBuilder {
            Instruction.store(0, to: .r10, offset: -8, size: .doubleWord)
            Instruction.loadMapPointer(.r1, fileDescriptor: ringFD)
            Instruction.loadFunctionAddress(.r2, function: "add_record")
            Instruction.mov64(.r3, .r10)
            Instruction.add64(.r3, -8)
            Instruction.mov64(.r4, 0)
            Instruction.callHelper(209)  // bpf_user_ringbuf_drain
            Instruction.mov64(.r7, .r0)
            Instruction.store(0, to: .r10, offset: -12, size: .word)
            Instruction.loadMapPointer(.r1, fileDescriptor: resultsFD)
            Instruction.mov64(.r2, .r10)
            Instruction.add64(.r2, -12)
            Instruction.callHelper(1)  // bpf_map_lookup_elem
            Instruction.jumpIf(.r0, .equal, 0, label: "out")
            Instruction.load(.r1, from: .r10, offset: -8, size: .doubleWord)
            Instruction.store(.r1, to: .r0, size: .doubleWord)
            Instruction.store(.r7, to: .r0, offset: 8, size: .doubleWord)
            Label("out")
            Instruction.mov64(.r0, 0)
            Instruction.exit()
            // The callback: r1 is the record's dynptr, r2 the context (the caller's sum).
            Instruction.mov64(.r6, .r2).withSymbol("add_record")
            Instruction.mov64(.r3, .r1)
            Instruction.mov64(.r1, .r10)
            Instruction.add64(.r1, -8)
            Instruction.mov64(.r2, 8)
            Instruction.mov64(.r4, 0)
            Instruction.mov64(.r5, 0)
            Instruction.callHelper(201)  // bpf_dynptr_read
            Instruction.jumpIf(.r0, .notEqual, 0, label: "skip")
            Instruction.load(.r1, from: .r10, offset: -8, size: .doubleWord)
            Instruction.load(.r2, from: .r6, size: .doubleWord)
            Instruction.add64(.r2, .r1)
            Instruction.store(.r2, to: .r6, size: .doubleWord)
            Label("skip")
            Instruction.mov64(.r0, 0)
            Instruction.exit()
        }.build()
        return try loadProgramWithCallback(name: "drain_user_rb", instructions: instructions, callback: "add_record")
    }

    static func userRing(size: UInt32 = 4096) throws -> Map {
        try Map(spec: MapSpec(name: "user_rb", type: .userRingbuf, keySize: 0, valueSize: 0, maxEntries: size))
    }

    static func resultsMap() throws -> Map {
        try Map(spec: MapSpec(name: "results", type: .array, keySize: 4, valueSize: 16, maxEntries: 1))
    }

    @Test func programDrainsWhatSwiftProduces() throws {
        let ring = try Self.userRing()
        let results = try Self.resultsMap()
        let program = try Self.drainProgram(ring: ring, results: results)
        let producer = try UserRingBufferProducer(ring)
        #expect(producer.bufferSize == 4096)
        #expect(producer.capacity == 4088)
        #expect(producer.availableBytes == 4096)

        for value in UInt64(1)...10 {
            try producer.write(value)
        }
        // A discarded record and a dropped reservation are skipped by the kernel.
        let discarded = try producer.reserve(size: 8)
        discarded.bytes.storeBytes(of: UInt64(1000), as: UInt64.self)
        discarded.discard()
        do {
            let dropped = try producer.reserve(size: 8)
            dropped.bytes.storeBytes(of: UInt64(5000), as: UInt64.self)
        }
        // A longer record in place: only its first 8 bytes count.
        let long = try producer.reserve(size: 20)
        long.bytes.storeBytes(of: UInt64(100), as: UInt64.self)
        long.submit()
        #expect(producer.availableBytes == 4096 - 10 * 16 - 2 * 16 - 32)

        _ = try program.testRun(data: testPacket)
        let (sum, count) = try #require(try results.lookup(UInt32(0), as: SIMD2<UInt64>.self).map { ($0[0], $0[1]) })
        #expect(sum == 155)
        #expect(count == 11)
        #expect(producer.availableBytes == 4096, "the kernel gave every byte back")
    }

    @Test func fullRingAndOversizedRecordsAreErrors() throws {
        let ring = try Self.userRing()
        let results = try Self.resultsMap()
        let program = try Self.drainProgram(ring: ring, results: results)
        let producer = try UserRingBufferProducer(ring)
        #expect(throws: ReaderError.recordTooLarge(requested: 4089, capacity: 4088)) {
            _ = try producer.reserve(size: 4089)
        }
        for _ in 0..<(4096 / 16) {
            try producer.write(UInt64(1))
        }
        #expect(throws: ReaderError.ringFull(requested: 8, available: 0)) { try producer.write(UInt64(1)) }
        _ = try program.testRun(data: testPacket)
        #expect(try results.lookup(UInt32(0), as: SIMD2<UInt64>.self) == SIMD2(256, 256))
        try producer.write(UInt64(7))
        producer.close()
        #expect(throws: ReaderError.closed) { try producer.write(UInt64(1)) }
        #expect(producer.availableBytes == 0)
    }

    @Test func closeWaitsForOutstandingReservations() throws {
        let ring = try Self.userRing()
        let results = try Self.resultsMap()
        let program = try Self.drainProgram(ring: ring, results: results)
        let producer = try UserRingBufferProducer(ring)
        let reservation = try producer.reserve(size: 8)
        producer.close()
        // The mapping is still there: the reservation can be filled and submitted.
        reservation.bytes.storeBytes(of: UInt64(42), as: UInt64.self)
        reservation.submit()
        _ = try program.testRun(data: testPacket)
        #expect(try results.lookup(UInt32(0), as: SIMD2<UInt64>.self) == SIMD2(42, 1))
    }

    @Test func wrongMapTypeIsRefused() throws {
        let ring = try ringBufferMap()
        #expect(throws: ReaderError.wrongMapType(map: "events", found: .ringbuf, expected: .userRingbuf)) {
            try UserRingBufferProducer(ring)
        }
    }
}
