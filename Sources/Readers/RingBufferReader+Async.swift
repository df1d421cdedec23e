import CEBPF

extension RingBufferReader {
    /// The records as an asynchronous sequence, copied out of the rings in order.
    ///
    /// An iteration owns the reader from its first `next()` until it ends or its iterator is
    /// dropped: meanwhile other reads fail with ``ReaderError/concurrentRead``. Each record is
    /// copied straight out of the ring into the ``RingBufferRecord`` value handed out (a short
    /// record into the value itself: no allocation, no reference counting), and its space goes
    /// back to the producer as it is handed out, so an iteration that stops early leaves the rest
    /// in the ring for the next reader. The sequence ends when the reader is closed (also while an
    /// iteration waits) or the task is cancelled.
    ///
    /// `next()` returns without suspending while records are ready: it is inlined into the loop,
    /// and only the start of each run of records (one ring's records, up to ``asyncBatchBytes``;
    /// rings take turns) is an asynchronous call. When every ring is empty it waits, once per
    /// wake-up, without blocking a thread of the cooperative pool.
    ///
    /// A copy per record still costs more than ``withNextBatch(isolation:_:)``, which lends each
    /// wake-up's records to a closure in place; use the sequence for records that must outlive
    /// the loop.
    public var records: Records {
        Records(reader: self)
    }

    /// The records as an asynchronous sequence of batches: each `next()` hands out every record
    /// available at that moment (up to ``asyncBatchBytes`` of them), copied, in order.
    ///
    /// A batch is a value: it owns its copy and stays valid for as long as it is kept, also across
    /// later `next()` calls and tasks. The space of a batch's records goes back to the producer
    /// when the batch is handed out. A batch is never empty; discarded records are skipped.
    /// Ownership of the reader, closing and cancellation behave as for ``records``.
    ///
    /// ```swift
    /// for try await batch in reader.batches {
    ///     for record in batch {
    ///         let event = record.decode(as: ExecEvent.self)
    ///     }
    /// }
    /// ```
    public var batches: Batches {
        Batches(reader: self)
    }

    /// How many bytes of records one batch of ``records`` or ``batches`` copies at most (a single
    /// larger record still makes a batch of its own).
    public static let asyncBatchBytes = 256 * 1024

    /// The records of a ``RingBufferReader`` as an `AsyncSequence`.
    public struct Records: AsyncSequence, Sendable {
        public typealias Element = RingBufferRecord
        public typealias Failure = ReaderError

        let reader: RingBufferReader

        public func makeAsyncIterator() -> Iterator {
            Iterator(reader: reader)
        }

        public struct Iterator: AsyncIteratorProtocol {
            public typealias Element = RingBufferRecord
            public typealias Failure = ReaderError

            @usableFromInline let reader: RingBufferReader
            /// Held from the first refill until the iteration ends or the iterator is dropped; the
            /// run's pointers are valid only meanwhile.
            @usableFromInline let slot: ReadSlot
            /// The run of records being handed out, read straight from the ring.
            @usableFromInline var run = RecordRun()
            @usableFromInline var finished = false

            init(reader: RingBufferReader) {
                self.reader = reader
                slot = ReadSlot(poller: reader.poller)
            }

            @inlinable public mutating func next() async throws(ReaderError) -> RingBufferRecord? {
                try await next(isolation: nil)
            }

            /// Runs on the caller's isolation. Inlinable so that a record that is ready comes out
            /// through straight-line code in the caller, without an asynchronous call, an executor
            /// check or a reference count; only the start of a run is an asynchronous call (which
            /// suspends only when the rings are empty).
            @inlinable public mutating func next(isolation actor: isolated (any Actor)?) async throws(ReaderError) -> RingBufferRecord? {
                if let record = run.next() { return record }
                return try await nextStartingRun(isolation: actor)
            }

            /// Finds the next ring with a committed record (rings take turns, one run each) and
            /// hands that record out, waiting when every ring is empty; the rest of its run goes
            /// through ``next(isolation:)``'s inlined path. nil once the reader is closed or the
            /// task cancelled, which also gives the read slot back.
            @usableFromInline mutating func nextStartingRun(isolation actor: isolated (any Actor)?) async throws(ReaderError) -> RingBufferRecord? {
                while true {
                    if finished || Task.isCancelled { return finish() }
                    do throws(ReaderError) {
                        try slot.acquire()
                        if reader.poller.isClosed { return finish() }
                        if let record = try startRun() { return record }
                    } catch .closed {
                        return finish()
                    } catch {
                        _ = finish()
                        throw error
                    }
                    switch await reader.poller.waitAsync(holdingReadSlot: true) {
                    case .ready: continue
                    case .closed, .cancelled: return finish()
                    case .failed(let error):
                        _ = finish()
                        throw error
                    }
                }
            }

            /// The first record of the next ring that has one, whose run becomes ``run``; nil
            /// when every ring is empty or starts with a record still being written.
            private mutating func startRun() throws(ReaderError) -> RingBufferRecord? {
                let reader = self.reader
                return try reader.rotation.firstResult(count: reader.rings.count) { index throws(ReaderError) -> RingBufferRecord? in
                    let ring = reader.rings[index]
                    var started = RecordRun(ring: index, mapping: ring, budget: RingBufferReader.asyncBatchBytes)
                    if let record = started.next() {
                        run = started
                        return record
                    }
                    if let corrupt = started.corruptHeader() {
                        throw .corruptRecord(map: ring.mapName, position: corrupt.position, length: corrupt.length, ringSize: ring.size)
                    }
                    return nil
                }
            }

            private mutating func finish() -> RingBufferRecord? {
                finished = true
                // Nothing may touch the rings once the slot is given back: a close may unmap them.
                run = RecordRun()
                slot.release()
                return nil
            }
        }
    }

    /// The records of a ``RingBufferReader`` as an `AsyncSequence` of batches; see ``batches``.
    public struct Batches: AsyncSequence, Sendable {
        public typealias Element = RingBufferBatch
        public typealias Failure = ReaderError

        let reader: RingBufferReader

        public func makeAsyncIterator() -> Iterator {
            Iterator(reader: reader)
        }

        public struct Iterator: AsyncIteratorProtocol {
            public typealias Element = RingBufferBatch
            public typealias Failure = ReaderError

            private var copier: BatchCopier

            init(reader: RingBufferReader) {
                copier = BatchCopier(reader: reader)
            }

            public mutating func next() async throws(ReaderError) -> RingBufferBatch? {
                try await next(isolation: nil)
            }

            /// Runs on the caller's isolation: no executor hop per batch.
            public mutating func next(isolation actor: isolated (any Actor)?) async throws(ReaderError) -> RingBufferBatch? {
                while true {
                    guard try await copier.fillOrWait(isolation: actor) else { return nil }
                    let batch = copier.takeBatch()
                    // A wake-up that found only discarded records hands out nothing.
                    if !batch.isEmpty { return batch }
                }
            }
        }
    }
}

/// A run of one ring's records that ``RingBufferReader/records`` hands out one by one, straight
/// from the ring: each header is checked, the record copied and its space given back in one pass.
/// Plain pointers and positions, valid while the iteration holds the read slot (the mapping lives
/// until then); the empty run hands out nothing.
@usableFromInline
struct RecordRun {
    @usableFromInline var ring = 0
    @usableFromInline var data: UnsafeRawPointer?
    @usableFromInline var consumerPosition: UnsafeMutableRawPointer?
    @usableFromInline var mask: UInt64 = 0
    @usableFromInline var maxRecordLength: UInt32 = 0
    /// The position of the next header.
    @usableFromInline var cursor: UInt64 = 0
    /// No record starts at or after this position: the producer position, or fewer bytes after
    /// the run's start, so that rings take turns.
    @usableFromInline var stop: UInt64 = 0
    /// The producer position when the run started: every committed record ends by it.
    @usableFromInline var producer: UInt64 = 0

    init() {}

    /// The committed records of `mapping` from its consumer position, up to `budget` bytes of
    /// ring (a record that starts inside continues past it). Call only with the read slot held.
    init(ring: Int, mapping: RingMapping, budget: Int) {
        self.ring = ring
        data = UnsafeRawPointer(mapping.data)
        consumerPosition = mapping.consumerPosition
        mask = mapping.mask
        maxRecordLength = mapping.maxRecordLength
        cursor = mapping.loadConsumerPosition()
        // Acquire pairs with the kernel's release of the producer position: the headers below it
        // are visible once the position is.
        producer = mapping.loadProducerPosition()
        stop = cursor < producer ? min(producer, cursor &+ UInt64(max(budget, 0))) : cursor
    }

    /// A copy of the next committed record, skipping discarded ones, its space given back; nil at
    /// the end of the run, at a record still being written, and at a header the kernel cannot have
    /// written (``corruptHeader()`` tells that case apart).
    @inlinable
    mutating func next() -> RingBufferRecord? {
        guard let data, let consumerPosition else { return nil }
        while cursor < stop {
            let word = loadAcquire(data + Int(truncatingIfNeeded: cursor & mask))
            let length = word & RingBufferHeader.lengthMask
            let next = cursor &+ RingBufferHeader.footprint(length)
            // Too long for the ring, or ending past the producer position: not the kernel's.
            guard word & RingBufferHeader.busyBit == 0, length <= maxRecordLength, next <= producer else { return nil }
            // The data pages are mapped twice, so the record is contiguous even where it wraps.
            let start = data + Int(truncatingIfNeeded: (cursor &+ UInt64(RingBufferHeader.size)) & mask)
            cursor = next
            if word & RingBufferHeader.discardBit != 0 {
                storeRelease(consumerPosition, next)
                continue
            }
            let record = RingBufferRecord(ring: ring, copying: UnsafeRawBufferPointer(start: start, count: Int(length)))
            storeRelease(consumerPosition, next)
            return record
        }
        return nil
    }

    /// Where ``next()`` stopped and the length it read, when it stopped at a committed header that
    /// cannot be the kernel's; nil when the run ended or its next record is still being written.
    func corruptHeader() -> (position: UInt64, length: UInt64)? {
        guard let data, cursor < stop else { return nil }
        let word = loadAcquire(data + Int(truncatingIfNeeded: cursor & mask))
        guard word & RingBufferHeader.busyBit == 0 else { return nil }
        return (cursor, UInt64(word & RingBufferHeader.lengthMask))
    }
}

/// Records copied together out of a ``RingBufferReader`` by ``RingBufferReader/batches``, in the
/// order the reader handed them out. A value that owns its bytes in one buffer; a record taken
/// from it is a ``RingBufferRecord`` of its own.
public struct RingBufferBatch: RandomAccessCollection, Sendable {
    public typealias Element = RingBufferRecord
    public typealias Index = Int

    /// The records as they sat in the rings, headers and all; `spans` says where each one is.
    @usableFromInline let buffer: [UInt8]
    @usableFromInline let spans: [RecordSpan]

    init(buffer: [UInt8], spans: [RecordSpan]) {
        self.buffer = buffer
        self.spans = spans
    }

    @inlinable public var startIndex: Int { 0 }
    @inlinable public var endIndex: Int { spans.count }
    @inlinable public var count: Int { spans.count }

    @inlinable public subscript(position: Int) -> RingBufferRecord {
        let span = spans[position]
        return buffer.withUnsafeBytes { buffer in
            RingBufferRecord(ring: span.ring, copying: UnsafeRawBufferPointer(rebasing: buffer[span.start..<(span.start &+ span.count)]))
        }
    }
}

/// Where one copied record sits in a batch's buffer.
@usableFromInline
struct RecordSpan: Sendable {
    @usableFromInline var ring: Int
    @usableFromInline var start: Int
    @usableFromInline var count: Int

    init(ring: Int, start: Int, count: Int) {
        self.ring = ring
        self.start = start
        self.count = count
    }
}

/// The copying and waiting the two copying sequences share: it holds the reader's read slot for
/// the iteration, copies the committed records of the rings into one buffer (headers and discarded
/// records included, one `memcpy` per ring), hands the records out of that copy and gives their
/// space back.
@usableFromInline
struct BatchCopier {
    /// One ring's run of records in ``buffer``.
    private struct Segment {
        var ring: Int
        var start: Int
        var end: Int
        /// The ring position of the byte at `start`.
        var position: UInt64
        var consumerPosition: UnsafeMutableRawPointer
    }

    let reader: RingBufferReader
    private let slot: ReadSlot
    private var finished = false
    /// The copied runs, back to back.
    private(set) var buffer: [UInt8] = []
    private var segments: [Segment] = []
    /// Where each copied record (discarded ones left out) sits in ``buffer``, noted while the
    /// rings' headers are checked: the copy is not walked again.
    private var spans: [RecordSpan] = []

    init(reader: RingBufferReader) {
        self.reader = reader
        self.slot = ReadSlot(poller: reader.poller)
    }

    /// The whole copy as one batch, its space given back, discarded records at its end included.
    mutating func takeBatch() -> RingBufferBatch {
        for segment in segments {
            // Release: the producer may reuse the space; our copy of it is complete.
            cebpf_store_release_u64(segment.consumerPosition, segment.position &+ UInt64(segment.end &- segment.start))
        }
        segments.removeAll(keepingCapacity: true)
        return RingBufferBatch(buffer: buffer, spans: spans)
    }

    /// Copies the records available now, waiting for some when there are none; false when the
    /// iteration is over (reader closed, task cancelled), which also gives the read slot back.
    mutating func fillOrWait(isolation actor: isolated (any Actor)?) async throws(ReaderError) -> Bool {
        while true {
            if finished || Task.isCancelled {
                finish()
                return false
            }
            do throws(ReaderError) {
                if try fill() { return true }
            } catch .closed {
                finish()
                return false
            } catch {
                finish()
                throw error
            }
            switch await reader.poller.waitAsync(holdingReadSlot: true) {
            case .ready: continue
            case .closed, .cancelled:
                finish()
                return false
            case .failed(let error):
                finish()
                throw error
            }
        }
    }

    private mutating func finish() {
        finished = true
        // Nothing may touch the rings once the slot is given back: a close may unmap them.
        segments.removeAll()
        slot.release()
    }

    /// Copies the committed records of the rings into the buffer (up to
    /// ``RingBufferReader/asyncBatchBytes``) without giving their space back; false when the rings
    /// hold nothing committed (not even discarded records).
    private mutating func fill() throws(ReaderError) -> Bool {
        try slot.acquire()
        if reader.poller.isClosed { throw .closed }
        segments.removeAll(keepingCapacity: true)
        // Reuse their storage when no batch handed out still refers to it; otherwise the
        // copy-on-write arrays allocate anew and that batch keeps the old ones.
        buffer.removeAll(keepingCapacity: true)
        spans.removeAll(keepingCapacity: true)
        for index in reader.rings.indices where buffer.count < RingBufferReader.asyncBatchBytes {
            let ring = reader.rings[index]
            let start = buffer.count
            guard
                let run = try reader.committedRun(
                    ring: index, budget: RingBufferReader.asyncBatchBytes &- start, copiedAt: start, spans: &spans)
            else { continue }
            // The run is at most the ring's size and the data pages are mapped twice: one
            // contiguous stretch of memory.
            buffer.append(
                contentsOf: UnsafeRawBufferPointer(
                    start: ring.data + Int(truncatingIfNeeded: run.first & ring.mask), count: Int(run.end &- run.first)))
            segments.append(
                Segment(ring: index, start: start, end: buffer.count, position: run.first, consumerPosition: ring.consumerPosition))
        }
        return !segments.isEmpty
    }
}

extension RingBufferReader {
    /// The committed records at the front of ring `index`: from the consumer position up to the
    /// first busy record or the producer position, at most `budget` bytes (a single longer record
    /// still counts), every header checked. Gives nothing back. nil when nothing is committed.
    /// Appends to `spans` where each record that was not discarded will sit once the run is
    /// copied to offset `base` of a buffer.
    ///
    /// - Returns: the consumer position and the position past the run.
    func committedRun(
        ring index: Int, budget: Int, copiedAt base: Int, spans: inout [RecordSpan]
    ) throws(ReaderError) -> (first: UInt64, end: UInt64)? {
        let ring = rings[index]
        let first = ring.loadConsumerPosition()
        // Acquire pairs with the kernel's release of the producer position.
        let producer = ring.loadProducerPosition()
        guard first < producer else { return nil }
        // Offsets from `first`: a committed record ends before the producer position, and the
        // kernel never holds more than a ring's worth, so every record must end by `limit`;
        // otherwise a header or a position is forged. The data pages are mapped twice, so the
        // whole run is contiguous.
        let available = producer &- first
        let limit = min(available, ring.size)
        let stop = min(available, UInt64(max(budget, 0)))
        let run = UnsafeRawPointer(ring.data) + Int(truncatingIfNeeded: first & ring.mask)
        var offset: UInt64 = 0
        while offset < stop {
            // Acquire pairs with the release that clears the busy bit on submit.
            let word = cebpf_load_acquire_u32(run + Int(truncatingIfNeeded: offset))
            if word & RingBufferHeader.busyBit != 0 { break }
            let length = word & RingBufferHeader.lengthMask
            let next = offset &+ RingBufferHeader.footprint(length)
            guard next <= limit else {
                throw .corruptRecord(map: ring.mapName, position: first &+ offset, length: UInt64(length), ringSize: ring.size)
            }
            if word & RingBufferHeader.discardBit == 0 {
                spans.append(
                    RecordSpan(
                        ring: index, start: base &+ Int(truncatingIfNeeded: offset) &+ RingBufferHeader.size,
                        count: Int(length)))
            }
            offset = next
        }
        return offset == 0 ? nil : (first, first &+ offset)
    }
}

/// The read slot an iteration holds from its first refill until it ends or its iterator is
/// dropped. Sendable by hand: one iterator, used by one task at a time, owns it.
@usableFromInline
final class ReadSlot: @unchecked Sendable {
    private let poller: EventPoller
    private var held = false

    init(poller: EventPoller) {
        self.poller = poller
    }

    func acquire() throws(ReaderError) {
        guard !held else { return }
        try poller.beginRead()
        held = true
    }

    func release() {
        guard held else { return }
        held = false
        poller.endRead()
    }

    deinit {
        release()
    }
}
