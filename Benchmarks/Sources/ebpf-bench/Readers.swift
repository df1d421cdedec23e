import CLibBPF
import EBPF
import Dispatch
import Glibc
import Synchronization

// The reader scenarios: a program of ours fills a ring buffer (or perf rings) with test runs, then
// each side hands every record to a callback that counts it.

/// `BPF_RB_NO_WAKEUP`: the filling program does not wake readers; nobody waits during the fill.
let ringbufNoWakeup: Int32 = 1

/// A socket filter writing one 64-byte record per run with `bpf_ringbuf_output`.
func ringbufFillProgram(ring: Map) -> Program {
    guard let ringFD = ring.withFileDescriptorValue({ $0 }) else { fail("ring buffer closed") }
    var instructions: [Instruction] = []
    for slot in 0..<8 {
        instructions.append(.store(Int32(slot), to: .r10, offset: Int16(-64 + slot * 8), size: .doubleWord))
    }
    instructions += [
        .loadMapPointer(.r1, fileDescriptor: ringFD),
        .mov64(.r2, .r10),
        .add64(.r2, -64),
        .mov64(.r3, 64),
        .mov64(.r4, ringbufNoWakeup),
        .callHelper(130),  // bpf_ringbuf_output
        .exit(),
    ]
    do {
        return try Program(spec: ProgramSpec(name: "bench_fill", type: .socketFilter, instructions: instructions))
    } catch {
        fail("load fill program: \(error)")
    }
}

let benchPacket = [UInt8](repeating: 0xab, count: 64)

/// Runs `program` until it has written `records` records (test runs repeat at most so often in
/// one call), failing if the program reports an error.
func fill(_ program: Program, records: Int) {
    var left = records
    while left > 0 {
        let batch = min(left, 1_000_000)
        do {
            let run = try program.testRun(data: benchPacket, repeat: UInt32(batch))
            guard run.returnValue == 0 else { fail("fill: the helper returned \(Int32(bitPattern: run.returnValue))") }
        } catch {
            fail("fill: \(error)")
        }
        left -= batch
    }
}

/// Counts records for libbpf's callbacks: `ctx` points at an Int.
let countRingbufRecord: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?, Int) -> Int32 = {
    context, _, _ in
    context?.assumingMemoryBound(to: Int.self).pointee += 1
    return 0
}

func runRingbuf(iterations: Int) {
    let recordCount = 500_000
    let ring: Map
    do {
        ring = try Map(spec: MapSpec(name: "bench_ring", type: .ringbuf, keySize: 0, valueSize: 0, maxEntries: 64 << 20))
    } catch {
        fail("create ring buffer: \(error)")
    }
    let program = ringbufFillProgram(ring: ring)
    let reader: RingBufferReader
    do {
        reader = try RingBufferReader(ring)
    } catch {
        fail("swift reader: \(error)")
    }
    let counter = UnsafeMutablePointer<Int>.allocate(capacity: 1)
    defer { counter.deallocate() }
    guard let ringFD = ring.withFileDescriptorValue({ $0 }),
        let libbpfReader = ring_buffer__new(ringFD, countRingbufRecord, counter, nil)
    else { fail("libbpf: ring_buffer__new failed, errno \(errno)") }
    defer { ring_buffer__free(libbpfReader) }

    func swiftConsume() -> Int {
        fill(program, records: recordCount)
        let start = now()
        var count = 0
        do {
            try reader.consume { _ in count &+= 1 }
        } catch {
            fail("swift consume: \(error)")
        }
        let elapsed = now() - start
        guard count == recordCount else { fail("swift consumed \(count) of \(recordCount)") }
        return Int(elapsed)
    }
    func libbpfConsume() -> Int {
        fill(program, records: recordCount)
        counter.pointee = 0
        let start = now()
        let result = ring_buffer__consume(libbpfReader)
        let elapsed = now() - start
        guard result >= 0, counter.pointee == recordCount else {
            fail("libbpf consumed \(counter.pointee) of \(recordCount) (result \(result))")
        }
        return Int(elapsed)
    }
    func swiftAsync() -> Int {
        fill(program, records: recordCount)
        let box = AsyncResultBox()
        Task.detached { [reader, box] in
            // Timed inside the task: starting it and handing the result back are thread wake-ups
            // of the harness (milliseconds under load at nice 19), not reading.
            let start = now()
            var count = 0
            do {
                for try await _ in reader.records {
                    count &+= 1
                    if count == recordCount { break }
                }
            } catch {
                fail("swift async: \(error)")
            }
            box.finish(count, elapsed: now() - start)
        }
        let (count, elapsed) = box.wait()
        guard count == recordCount else { fail("swift async consumed \(count) of \(recordCount)") }
        return Int(elapsed)
    }
    func swiftAsyncBatches() -> Int {
        fill(program, records: recordCount)
        let box = AsyncResultBox()
        Task.detached { [reader, box] in
            // Timed inside the task: starting it and handing the result back are thread wake-ups
            // of the harness (milliseconds under load at nice 19), not reading.
            let start = now()
            var count = 0
            do {
                // One call per wake-up, records lent in place; every record goes through the
                // caller's hands, as in the other sides.
                while count < recordCount {
                    guard
                        let seen = try await reader.withNextBatch({ batch in
                            var seen = 0
                            for _ in batch { seen &+= 1 }
                            return seen
                        })
                    else { break }
                    count &+= seen
                }
            } catch {
                fail("swift async batches: \(error)")
            }
            box.finish(count, elapsed: now() - start)
        }
        let (count, elapsed) = box.wait()
        guard count == recordCount else { fail("swift async batches consumed \(count) of \(recordCount)") }
        return Int(elapsed)
    }
    func swiftAsyncCopiedBatches() -> Int {
        fill(program, records: recordCount)
        let box = AsyncResultBox()
        Task.detached { [reader, box] in
            // Timed inside the task: starting it and handing the result back are thread wake-ups
            // of the harness (milliseconds under load at nice 19), not reading.
            let start = now()
            var count = 0
            do {
                batches: for try await batch in reader.batches {
                    for _ in batch {
                        count &+= 1
                    }
                    if count >= recordCount { break batches }
                }
            } catch {
                fail("swift async copied batches: \(error)")
            }
            box.finish(count, elapsed: now() - start)
        }
        let (count, elapsed) = box.wait()
        guard count == recordCount else { fail("swift async copied batches consumed \(count) of \(recordCount)") }
        return Int(elapsed)
    }

    // Timed sections only: `measureTimed` takes the elapsed nanoseconds each side returns.
    let consume = measureTimed(
        iterations: iterations, [swiftConsume, libbpfConsume, swiftAsync, swiftAsyncBatches, swiftAsyncCopiedBatches])
    report("ringbuf-consume", swift: consume[0], libbpf: consume[1])
    report("ringbuf-consume-async", swift: consume[2], libbpf: consume[1])
    report("ringbuf-consume-async-batches", swift: consume[3], libbpf: consume[1])
    report("ringbuf-consume-async-copied-batches", swift: consume[4], libbpf: consume[1])
}

/// Runs `sides` interleaved and returns each side's median in milliseconds, where each side
/// returns the nanoseconds of its own timed section (the untimed fill is left out).
func measureTimed(iterations: Int, _ sides: [() -> Int]) -> [Double] {
    var samples = [[Double]](repeating: [], count: sides.count)
    for _ in 0..<2 { for side in sides { _ = side() } }  // warm up
    for _ in 0..<iterations {
        for (index, side) in sides.enumerated() {
            samples[index].append(Double(side()) / 1_000_000)
        }
    }
    return samples.map(median)
}

/// Hands a result from a task to the waiting main thread.
final class AsyncResultBox: Sendable {
    private let value = Mutex<(count: Int, elapsed: UInt64)?>(nil)
    private let done = DispatchSemaphore(value: 0)

    /// Hands over the records counted and the nanoseconds the task's timed section took.
    func finish(_ count: Int, elapsed: UInt64) {
        value.withLock { $0 = (count, elapsed) }
        done.signal()
    }

    func wait() -> (count: Int, elapsed: UInt64) {
        done.wait()
        return value.withLock { $0 } ?? (-1, 0)
    }
}
