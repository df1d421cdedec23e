import CEBPF
import EBPFCollection
import EBPFSys
import Synchronization

/// Writes records from Swift into a `BPF_MAP_TYPE_USER_RINGBUF` (Linux 6.1) for BPF programs
/// that drain it with `bpf_user_ringbuf_drain`.
///
/// This is the producer half that user space owns: it maps the producer page and the data pages
/// (twice, as the kernel lays them out) writable and the consumer page read-only. A record is
/// reserved (its header marked busy), filled in place, then submitted or discarded; the kernel
/// stops draining at the first busy record, so a reservation left unfinished holds back every
/// later one until it is submitted or dropped (dropping discards it). Reservations on several
/// threads are serialised here.
///
/// ```swift
/// let producer = try UserRingBufferProducer(requests)
/// try producer.write(Request(pid: 42))
/// var reservation = try producer.reserve(size: 16)
/// reservation.bytes.storeBytes(of: UInt64(7), as: UInt64.self)
/// reservation.submit()
/// ```
public final class UserRingBufferProducer: @unchecked Sendable {
    // Sendable by hand: the producer position is only advanced under `state`'s lock, and the
    // mapping is released only when no reservation is outstanding.
    private let ring: RingMapping

    private struct State {
        var outstanding = 0
        var closed = false
        var released = false
    }
    private let state = Mutex(State())

    /// The largest record the ring can hold (its size less one record header).
    public let capacity: Int

    /// Maps `map`, which must be a `BPF_MAP_TYPE_USER_RINGBUF`. The map may be closed afterwards;
    /// the producer keeps a descriptor of its own.
    public init(_ map: Map) throws(ReaderError) {
        ring = try RingMapping(map: map, type: .userRingbuf, userProduces: true)
        capacity = Int(ring.size) - RingBufferHeader.size
    }

    deinit {
        ring.release()
    }

    /// The data size of the ring, in bytes.
    public var bufferSize: Int { Int(ring.size) }

    /// The bytes free for new records (headers and padding included); 0 once closed.
    public var availableBytes: Int {
        state.withLock { state in
            guard !state.released else { return 0 }
            let used = ring.producerPositionValue &- ring.loadConsumerPosition()
            return used <= ring.size ? Int(ring.size - used) : 0
        }
    }

    /// Reserves room for a record of `size` bytes. Fill ``UserRingBufferReservation/bytes`` and
    /// call ``UserRingBufferReservation/submit()``.
    ///
    /// - Throws: ``ReaderError/recordTooLarge(requested:capacity:)`` when it can never fit;
    ///   ``ReaderError/ringFull(requested:available:)`` when programs have not drained enough yet;
    ///   ``ReaderError/closed`` after ``close()``.
    public func reserve(size: Int) throws(ReaderError) -> UserRingBufferReservation {
        guard size >= 0, size <= capacity else {
            throw .recordTooLarge(requested: size, capacity: capacity)
        }
        let footprint = RingBufferHeader.footprint(UInt32(size))
        let reserved: Result<(header: UnsafeMutableRawPointer, data: UnsafeMutableRawPointer), ReaderError> =
            state.withLock { state in
                guard !state.closed else { return .failure(.closed) }
                // Acquire pairs with the kernel's release after it finished reading drained records.
                let consumer = ring.loadConsumerPosition()
                let producer = ring.producerPositionValue
                let used = producer &- consumer
                let available = used <= ring.size ? ring.size - used : 0
                guard footprint <= available else {
                    return .failure(.ringFull(requested: size, available: Int(available)))
                }
                let header = ring.data + Int(producer & ring.mask)
                header.storeBytes(of: UInt32(size) | RingBufferHeader.busyBit, as: UInt32.self)
                header.storeBytes(of: UInt32(0), toByteOffset: 4, as: UInt32.self)
                // Release: the kernel must see the busy header before it sees the new position.
                cebpf_store_release_u64(ring.producerPosition, producer &+ footprint)
                state.outstanding += 1
                let data = ring.data + Int((producer &+ UInt64(RingBufferHeader.size)) & ring.mask)
                return .success((header, data))
            }
        let place = try reserved.get()
        return UserRingBufferReservation(
            producer: self, header: place.header, bytes: UnsafeMutableRawBufferPointer(start: place.data, count: size))
    }

    /// Copies `bytes` into a new record and submits it.
    public func write(bytes: UnsafeRawBufferPointer) throws(ReaderError) {
        let reservation = try reserve(size: bytes.count)
        if let source = bytes.baseAddress, let target = reservation.bytes.baseAddress {
            target.copyMemory(from: source, byteCount: bytes.count)
        }
        reservation.submit()
    }

    /// Copies `bytes` into a new record and submits it.
    public func write(_ bytes: [UInt8]) throws(ReaderError) {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(ReaderError) in try write(bytes: buffer) }
        }.get()
    }

    /// Writes `value`'s bytes (for instance a struct bpf2swift generated) as one record.
    public func write<Value: BitwiseCopyable>(_ value: Value) throws(ReaderError) {
        try withUnsafeBytes(of: value) { buffer in
            Result { () throws(ReaderError) in try write(bytes: buffer) }
        }.get()
    }

    /// Refuses new reservations and releases the mapping once the outstanding ones are finished.
    /// Calling it again does nothing.
    public func close() {
        let release = state.withLock { state -> Bool in
            state.closed = true
            guard state.outstanding == 0, !state.released else { return false }
            state.released = true
            return true
        }
        if release { ring.release() }
    }

    /// Marks the record at `header` done: submitted, or discarded when `discard` is set.
    fileprivate func finish(header: UnsafeMutableRawPointer, discard: Bool) {
        let word = header.load(as: UInt32.self) & ~RingBufferHeader.busyBit
        // Release: the record's bytes are visible to the kernel before the cleared busy bit.
        cebpf_store_release_u32(header, discard ? word | RingBufferHeader.discardBit : word)
        let release = state.withLock { state -> Bool in
            state.outstanding -= 1
            guard state.closed, state.outstanding == 0, !state.released else { return false }
            state.released = true
            return true
        }
        if release { ring.release() }
    }
}

/// Room for one record in a user ring buffer, reserved and not yet submitted.
///
/// Fill ``bytes`` and call ``submit()`` or ``discard()``. Dropping it discards the record, so the
/// kernel is never left waiting on it.
public struct UserRingBufferReservation: ~Copyable {
    private let producer: UserRingBufferProducer
    private let header: UnsafeMutableRawPointer
    private var finished = false
    /// Where the record's bytes go: exactly the reserved size, valid until submit or discard.
    public let bytes: UnsafeMutableRawBufferPointer

    fileprivate init(producer: UserRingBufferProducer, header: UnsafeMutableRawPointer, bytes: UnsafeMutableRawBufferPointer) {
        self.producer = producer
        self.header = header
        self.bytes = bytes
    }

    /// Hands the record to the kernel.
    public consuming func submit() {
        finish(discard: false)
    }

    /// Gives the room back without a record: the kernel skips it.
    public consuming func discard() {
        finish(discard: true)
    }

    private mutating func finish(discard: Bool) {
        guard !finished else { return }
        finished = true
        producer.finish(header: header, discard: discard)
    }

    deinit {
        if !finished {
            producer.finish(header: header, discard: true)
        }
    }
}

extension RingMapping {
    /// The producer position, read by the only producer (user space) without ordering.
    var producerPositionValue: UInt64 {
        producerPosition.load(as: UInt64.self)
    }
}
