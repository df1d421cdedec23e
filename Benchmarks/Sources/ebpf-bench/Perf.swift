import CLibBPF
import EBPF
import Glibc

// perf-consume: the ringbuf-consume scenario for a perf event array. A socket filter sends 64-byte
// samples with bpf_perf_event_output to the current CPU's ring; each side then hands every sample
// to a callback that counts it.
//
// Each side has its own map and its own copy of the program: a perf event array holds one event
// per CPU, and whichever reader stored its events last would receive everything.

/// `BPF_F_CURRENT_CPU`: the ring of the CPU the program runs on.
let perfCurrentCPU: Int32 = -1

/// A socket filter writing one 64-byte sample per run with `bpf_perf_event_output`.
func perfFillProgram(events: Map) -> Program {
    guard let eventsFD = events.withFileDescriptorValue({ $0 }) else { fail("perf event array closed") }
    var instructions: [Instruction] = []
    for slot in 0..<8 {
        instructions.append(.store(Int32(slot), to: .r10, offset: Int16(-64 + slot * 8), size: .doubleWord))
    }
    // r1 still holds the context (the packet), the helper's first argument.
    instructions += [
        .loadMapPointer(.r2, fileDescriptor: eventsFD),
        .mov32(.r3, perfCurrentCPU),  // zero-extended: the current CPU, no context bytes
        .mov64(.r4, .r10),
        .add64(.r4, -64),
        .mov64(.r5, 64),
        .callHelper(25),  // bpf_perf_event_output
        .exit(),
    ]
    do {
        return try Program(spec: ProgramSpec(name: "bench_perf", type: .socketFilter, instructions: instructions))
    } catch {
        fail("load perf fill program: \(error)")
    }
}

/// Counts samples for libbpf's `perf_buffer_sample_fn`: `ctx` points at an Int.
let countPerfSample: @convention(c) (UnsafeMutableRawPointer?, Int32, UnsafeMutableRawPointer?, UInt32) -> Void = {
    context, _, _, _ in
    context?.assumingMemoryBound(to: Int.self).pointee += 1
}

func runPerf(iterations: Int) {
    let recordCount = 500_000
    // A 64-byte sample takes 80 bytes in the ring (header, size word, padding); the test runs may
    // all land on one CPU, so each CPU's ring holds the whole load.
    let perCPUBytes = 64 << 20
    let cpus: Int
    do {
        cpus = try PossibleCPUs.count()
    } catch {
        fail("possible CPUs: \(error)")
    }
    func makeMap(_ name: String) -> Map {
        do {
            return try Map(
                spec: MapSpec(name: name, type: .perfEventArray, keySize: 4, valueSize: 4, maxEntries: UInt32(cpus)))
        } catch {
            fail("create perf event array: \(error)")
        }
    }
    let swiftEvents = makeMap("bench_perf_s")
    let libbpfEvents = makeMap("bench_perf_l")
    let swiftProgram = perfFillProgram(events: swiftEvents)
    let libbpfProgram = perfFillProgram(events: libbpfEvents)

    let reader: PerfEventReader
    do {
        reader = try PerfEventReader(swiftEvents, options: PerfReaderOptions(perCPUBufferSize: perCPUBytes))
    } catch {
        fail("swift reader: \(error)")
    }
    let counter = UnsafeMutablePointer<Int>.allocate(capacity: 1)
    defer { counter.deallocate() }
    guard let eventsFD = libbpfEvents.withFileDescriptorValue({ $0 }),
        let libbpfReader = perf_buffer__new(eventsFD, perCPUBytes / Int(getpagesize()), countPerfSample, nil, counter, nil)
    else { fail("libbpf: perf_buffer__new failed, errno \(errno)") }
    defer { perf_buffer__free(libbpfReader) }

    func swiftConsume() -> Int {
        fill(swiftProgram, records: recordCount)
        let start = now()
        var count = 0
        var lost: UInt64 = 0
        do {
            try reader.consume { record in
                count &+= 1
                lost &+= record.lostSamples
            }
        } catch {
            fail("swift consume: \(error)")
        }
        let elapsed = now() - start
        guard count == recordCount, lost == 0 else { fail("swift consumed \(count) of \(recordCount), \(lost) lost") }
        return Int(elapsed)
    }
    func libbpfConsume() -> Int {
        fill(libbpfProgram, records: recordCount)
        counter.pointee = 0
        let start = now()
        let result = perf_buffer__consume(libbpfReader)
        let elapsed = now() - start
        guard result >= 0, counter.pointee == recordCount else {
            fail("libbpf consumed \(counter.pointee) of \(recordCount) (result \(result))")
        }
        return Int(elapsed)
    }

    let consume = measureTimed(iterations: iterations, [swiftConsume, libbpfConsume])
    report("perf-consume", swift: consume[0], libbpf: consume[1])
}
