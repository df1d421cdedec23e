import EBPFASM
import EBPFCollection
@testable import EBPFReaders
import Glibc
import Testing

/// A 14-byte Ethernet frame plus payload: what socket filter test runs take.
let testPacket = [UInt8](repeating: 0xab, count: 64)

/// The marker every test record carries after its sequence number.
let recordMarker: UInt64 = 0x5eed

/// The records test programs write: a sequence number from 1 and the marker.
struct TestEvent: BitwiseCopyable, Equatable {
    var sequence: UInt64
    var marker: UInt64
}

struct MissingDescriptor: Error {}

/// A one-element array holding a `UInt64`, which the test programs count in.
func counterMap() throws -> Map {
    try Map(spec: MapSpec(name: "counter", type: .array, keySize: 4, valueSize: 8, maxEntries: 1))
}

func ringBufferMap(_ name: String = "events", size: UInt32 = 4096) throws -> Map {
    try Map(spec: MapSpec(name: name, type: .ringbuf, keySize: 0, valueSize: 0, maxEntries: size))
}

func descriptor(of map: Map) throws -> Int32 {
    guard let value = map.withFileDescriptorValue({ $0 }) else { throw MissingDescriptor() }
    return value
}

/// Appends instructions that increment the counter and leave the new value in r7 (r6 keeps the
/// context); the program returns 1 when the lookup fails.
func appendCounterIncrement(to builder: inout ProgramBuilder, counter: Map) throws {
    let counterFD = try descriptor(of: counter)
    builder.append(contentsOf: [
        .mov64(.r6, .r1),
        .store(0, to: .r10, offset: -4, size: .word),
        .loadMapPointer(.r1, fileDescriptor: counterFD),
        .mov64(.r2, .r10),
        .add64(.r2, -4),
        .callHelper(1),  // bpf_map_lookup_elem
        .jumpIf(.r0, .notEqual, 0, label: "found"),
        .mov64(.r0, 1),
        .exit(),
    ])
    builder.label("found")
    builder.append(contentsOf: [
        .load(.r7, from: .r0, size: .doubleWord),
        .add64(.r7, 1),
        .store(.r7, to: .r0, size: .doubleWord),
    ])
}

/// A socket filter that writes one ``TestEvent`` per run with `bpf_ringbuf_output` (helper 130)
/// and returns the helper's result.
func ringbufOutputProgram(ring: Map, counter: Map) throws -> Program {
    var builder = ProgramBuilder()
    try appendCounterIncrement(to: &builder, counter: counter)
    let ringFD = try descriptor(of: ring)
    builder.append(contentsOf: [
        .store(.r7, to: .r10, offset: -24, size: .doubleWord),
        .mov64(.r1, Int32(recordMarker)),
        .store(.r1, to: .r10, offset: -16, size: .doubleWord),
        .loadMapPointer(.r1, fileDescriptor: ringFD),
        .mov64(.r2, .r10),
        .add64(.r2, -24),
        .mov64(.r3, 16),
        .mov64(.r4, 0),
        .callHelper(130),  // bpf_ringbuf_output
        .exit(),
    ])
    return try Program(spec: ProgramSpec(name: "rb_output", type: .socketFilter, instructions: builder.build()))
}

/// A socket filter that reserves a ``TestEvent`` (helper 131), fills it, and submits it (132)
/// when its sequence number is even or discards it (133) when odd. Returns 2 when the ring is full.
func ringbufReserveProgram(ring: Map, counter: Map) throws -> Program {
    var builder = ProgramBuilder()
    try appendCounterIncrement(to: &builder, counter: counter)
    let ringFD = try descriptor(of: ring)
    builder.append(contentsOf: [
        .loadMapPointer(.r1, fileDescriptor: ringFD),
        .mov64(.r2, 16),
        .mov64(.r3, 0),
        .callHelper(131),  // bpf_ringbuf_reserve
        .jumpIf(.r0, .notEqual, 0, label: "reserved"),
        .mov64(.r0, 2),
        .exit(),
    ])
    builder.label("reserved")
    builder.append(contentsOf: [
        .store(.r7, to: .r0, size: .doubleWord),
        .store(Int32(recordMarker), to: .r0, offset: 8, size: .doubleWord),
        .mov64(.r1, .r0),
        .mov64(.r2, 0),
        .mov64(.r3, .r7),
        .and64(.r3, 1),
        .jumpIf(.r3, .notEqual, 0, label: "discard"),
        .callHelper(132),  // bpf_ringbuf_submit
        .mov64(.r0, 0),
        .exit(),
    ])
    builder.label("discard")
    builder.append(contentsOf: [
        .callHelper(133),  // bpf_ringbuf_discard
        .mov64(.r0, 0),
        .exit(),
    ])
    return try Program(spec: ProgramSpec(name: "rb_reserve", type: .socketFilter, instructions: builder.build()))
}

/// Runs `body` on a thread of its own and waits for it: blocking reads in tests must not hold one
/// of the few threads of the cooperative pool.
func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let started = BlockingJob { continuation.resume(returning: body()) }.start()
        precondition(started, "the test could not start a thread")
    }
}

/// Sleeps without `Task.sleep`, whose first use in a process opens a timer descriptor that the
/// leak check would blame on the test.
func pause(milliseconds: Int) async {
    await offPool { usleep(UInt32(milliseconds * 1000)) }
}
