import CEBPF
import EBPFCollection
import EBPFSys

/// A record as it sits in a ring buffer, valid only inside the closure it is handed to.
///
/// The bytes are the kernel's memory: no copy is made. The space is given back to the producer
/// when the closure returns, so neither the buffer nor a pointer into it may escape.
public struct RingBufferRecordView {
    /// The index of the ring the record came from, in the order the reader was given the maps.
    public let ring: Int
    /// The record's bytes, exactly as long as the program made it.
    public let bytes: UnsafeRawBufferPointer

    @usableFromInline init(ring: Int, bytes: UnsafeRawBufferPointer) {
        self.ring = ring
        self.bytes = bytes
    }

    /// The record's bytes decoded as `Value` (for instance a struct bpf2swift generated), nil when
    /// the record is shorter than `Value`. Longer records decode their first bytes.
    public func load<Value: BitwiseCopyable>(as type: Value.Type = Value.self) -> Value? {
        guard bytes.count >= MemoryLayout<Value>.size else { return nil }
        return bytes.loadUnaligned(as: Value.self)
    }

    /// The bytes after a fixed-size `Header`: the variable-length tail of a record laid out as a
    /// struct followed by data (execsnoop's arguments after its header). Empty when the record
    /// is no longer than `Header`.
    ///
    /// ```swift
    /// guard let header = record.load(as: ExecsnoopTypes.exec_header.self) else { return }
    /// let arguments = record.bytes(after: ExecsnoopTypes.exec_header.self).prefix(Int(header.args_size))
    /// ```
    public func bytes<Header: BitwiseCopyable>(after header: Header.Type) -> UnsafeRawBufferPointer {
        let size = MemoryLayout<Header>.size
        guard bytes.count > size else { return UnsafeRawBufferPointer(rebasing: bytes[bytes.count...]) }
        return UnsafeRawBufferPointer(rebasing: bytes[size...])
    }

    /// A copy that outlives the closure.
    public func copy() -> RingBufferRecord {
        RingBufferRecord(ring: ring, copying: bytes)
    }
}

/// Reads the records BPF programs write into one or more `BPF_MAP_TYPE_RINGBUF` maps (Linux 5.8).
///
/// The reader maps each ring into this process and hands records out in the order the programs
/// committed them, skipping the ones they discarded. It waits with epoll, so a blocked read costs
/// nothing; ``close()`` from another thread ends such a wait with ``ReaderError/closed``. A ring has
/// a single consumer: one read runs at a time. The maps stay usable and may be closed once the
/// reader exists; the reader keeps descriptors of its own and releases everything when closed or
/// dropped.
///
/// ```swift
/// let reader = try RingBufferReader(events)
/// for try await record in reader.records {
///     let event = record.decode(as: ExecEvent.self)
/// }
/// ```
public final class RingBufferReader: @unchecked Sendable {
    // Sendable by hand: `rotation` is touched only by the thread that holds the poller's read
    // slot; the mappings are released only when nobody reads. The consumer position is read from
    // the shared page each time rather than cached, so that readers which take turns on one map
    // (another process, libbpf) stay consistent.
    let rings: [RingMapping]
    let poller: EventPoller
    var rotation = RingRotation()

    /// The names of the maps, by ring index.
    public let mapNames: [String]

    /// A reader over one ring buffer.
    public convenience init(_ map: Map) throws(ReaderError) {
        try self.init(maps: [map])
    }

    /// A reader over several ring buffers; a record's ``RingBufferRecord/ring`` is the index of
    /// its map in `maps`.
    public convenience init(maps: [Map]) throws(ReaderError) {
        guard !maps.isEmpty else { throw .noMaps }
        var rings: [RingMapping] = []
        for map in maps {
            rings.append(try RingMapping(map: map, type: .ringbuf, userProduces: false))
        }
        try self.init(mappings: rings)
    }

    /// A reader over rings already mapped (tests forge rings through it).
    init(mappings rings: [RingMapping]) throws(ReaderError) {
        guard !rings.isEmpty else { throw .noMaps }
        let label = rings.map(\.mapName).joined(separator: ",")
        poller = try EventPoller(label: label) {
            for ring in rings { ring.release() }
        }
        for (index, ring) in rings.enumerated() {
            try poller.register(ring.descriptor, token: UInt64(index))
        }
        self.rings = rings
        self.mapNames = rings.map(\.mapName)
    }

    deinit {
        poller.close()
    }

    // MARK: - Sizes

    /// The data size of ring `ring`, in bytes (the map's `max_entries`).
    public func bufferSize(ring: Int = 0) -> Int {
        rings.indices.contains(ring) ? Int(rings[ring].size) : 0
    }

    /// Bytes written into ring `ring` and not yet read (records, headers and discarded ones
    /// included); 0 once the reader is closed.
    public func pendingBytes(ring: Int = 0) -> Int {
        guard rings.indices.contains(ring) else { return 0 }
        return poller.withResources { rings[ring].pendingBytes } ?? 0
    }

    // MARK: - Lifetime

    /// Ends waiting reads with ``ReaderError/closed`` and releases the mappings and descriptors
    /// (when the read in flight, if any, returns). Calling it again does nothing.
    public func close() {
        poller.close()
    }

    public var isClosed: Bool {
        poller.isClosed
    }

    // MARK: - Reading

    /// Waits for the next record and runs `body` on it in place, without copying. The record's
    /// space goes back to the producer when `body` returns.
    ///
    /// - Parameter deadline: when to give up with ``ReaderError/timedOut``; nil waits for ever.
    /// - Throws: ``ReaderError`` (``ReaderError/closed`` when closed meanwhile), or what `body`
    ///   throws.
    public func readRecord<Result>(
        deadline: ContinuousClock.Instant? = nil, _ body: (RingBufferRecordView) throws -> Result
    ) throws -> Result {
        try readRethrowing(body) { (handler: (RingBufferRecordView) -> Result?) throws(ReaderError) in
            try withNextRecord(deadline: deadline, handler)
        }
    }

    /// Waits for the next record and returns a copy of it.
    /// - Throws: ``ReaderError/timedOut`` when `deadline` passes first, ``ReaderError/closed`` when
    ///   the reader is or gets closed.
    public func read(deadline: ContinuousClock.Instant? = nil) throws(ReaderError) -> RingBufferRecord {
        try withNextRecord(deadline: deadline) { $0.copy() }
    }

    /// Waits up to `timeout` for the next record and returns a copy of it.
    public func read(timeout: Duration) throws(ReaderError) -> RingBufferRecord {
        try read(deadline: .now.advanced(by: timeout))
    }

    /// Hands every record available now to `body`, in order, without waiting and without copying;
    /// returns how many it handed over. The fastest way to drain the rings.
    @discardableResult
    public func consume(_ body: (RingBufferRecordView) -> Void) throws(ReaderError) -> Int {
        try poller.beginRead()
        defer { poller.endRead() }
        var count = 0
        for index in rings.indices {
            count &+= try drain(ring: index, body)
        }
        return count
    }

    /// Hands every committed record of ring `index` to `body`; stops at an empty ring or a busy
    /// record. The batch form of ``nextRecord(in:_:)``: the producer position is loaded once per
    /// run of records instead of once per record, and the ring's geometry is kept in locals (the
    /// call to `body` would make the compiler load it from the mapping object again each time).
    private func drain(ring index: Int, _ body: (RingBufferRecordView) -> Void) throws(ReaderError) -> Int {
        let ring = rings[index]
        let consumerPosition = ring.consumerPosition
        var consumer = ring.loadConsumerPosition()
        var count = 0
        while true {
            // Acquire pairs with the kernel's release of the producer position: the headers below
            // it are visible once the position is.
            let producer = ring.loadProducerPosition()
            guard consumer < producer else { return count }
            // Offsets from `consumer`: a committed record ends before the producer position, and
            // the kernel never holds more than a ring's worth, so every record must end by
            // `limit`; one that does not is not the kernel's (and would reach past the mapping).
            // The data pages are mapped twice: the run is contiguous even where it wraps.
            let available = producer &- consumer
            let limit = min(available, ring.size)
            let run = UnsafeRawPointer(ring.data) + Int(truncatingIfNeeded: consumer & ring.mask)
            var offset: UInt64 = 0
            repeat {
                // Acquire pairs with the release that clears the busy bit on submit.
                let word = cebpf_load_acquire_u32(run + Int(truncatingIfNeeded: offset))
                if word & RingBufferHeader.busyBit != 0 {
                    return count
                }
                let length = word & RingBufferHeader.lengthMask
                let next = offset &+ RingBufferHeader.footprint(length)
                guard next <= limit else {
                    throw .corruptRecord(map: ring.mapName, position: consumer &+ offset, length: UInt64(length), ringSize: ring.size)
                }
                if word & RingBufferHeader.discardBit == 0 {
                    body(RingBufferRecordView(ring: index, bytes: UnsafeRawBufferPointer(start: run + Int(truncatingIfNeeded: offset &+ 8), count: Int(length))))
                    count &+= 1
                }
                offset = next
                // Release: the kernel may reuse the space only after our reads of it are done.
                cebpf_store_release_u64(consumerPosition, consumer &+ offset)
            } while offset < available
            consumer &+= offset
        }
    }

    /// The next record, waiting until `deadline`.
    func withNextRecord<Result>(
        deadline: ContinuousClock.Instant?, _ body: (RingBufferRecordView) -> Result
    ) throws(ReaderError) -> Result {
        try poller.readNext(deadline: deadline) { () throws(ReaderError) in try nextRecordInAnyRing(body) }
    }

    /// The next record of any ring, without waiting; nil when every ring is empty. Rings take turns
    /// so that a busy one does not starve the others.
    func nextRecordInAnyRing<Result>(_ body: (RingBufferRecordView) -> Result) throws(ReaderError) -> Result? {
        try rotation.firstResult(count: rings.count) { index throws(ReaderError) in try nextRecord(in: index, body) }
    }

    /// The next committed record of ring `index`, skipping discarded ones; nil when the ring is
    /// empty or its oldest record is still being written (busy).
    @inline(__always)
    private func nextRecord<Result>(
        in index: Int, _ body: (RingBufferRecordView) -> Result
    ) throws(ReaderError) -> Result? {
        let ring = rings[index]
        var consumer = ring.loadConsumerPosition()
        // Acquire pairs with the kernel's release of the producer position: the headers below it
        // are visible once the position is.
        let producer = ring.loadProducerPosition()
        while consumer < producer {
            let header = ring.data + Int(consumer & ring.mask)
            // Acquire pairs with the release that clears the busy bit on submit.
            let word = cebpf_load_acquire_u32(header)
            if word & RingBufferHeader.busyBit != 0 {
                break
            }
            let length = word & RingBufferHeader.lengthMask
            let next = consumer &+ RingBufferHeader.footprint(length)
            // Too long for the ring, or ending past the producer position: not the kernel's.
            guard length <= ring.maxRecordLength, next <= producer else {
                throw .corruptRecord(map: ring.mapName, position: consumer, length: UInt64(length), ringSize: ring.size)
            }
            if word & RingBufferHeader.discardBit != 0 {
                consumer = next
                cebpf_store_release_u64(ring.consumerPosition, consumer)
                continue
            }
            // The data pages are mapped twice, so the record is contiguous even where it wraps.
            let start = ring.data + Int((consumer &+ UInt64(RingBufferHeader.size)) & ring.mask)
            let result = body(RingBufferRecordView(ring: index, bytes: UnsafeRawBufferPointer(start: start, count: Int(length))))
            // Release: the kernel may reuse the space only after our reads of it are done.
            cebpf_store_release_u64(ring.consumerPosition, next)
            return result
        }
        return nil
    }
}
