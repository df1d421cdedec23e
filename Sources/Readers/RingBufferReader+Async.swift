import CEBPF

extension RingBufferReader {
    /// The records as an asynchronous sequence, copied out of the rings in order.
    ///
    /// An iteration owns the reader from its first `next()` until it ends or its iterator is
    /// dropped: meanwhile other reads fail with ``ReaderError/concurrentRead``. It copies the
    /// records available at once into one buffer (up to ``asyncBatchBytes``) and hands them out
    /// one by one; a record's space goes back to the producer only when the record is handed
    /// out, so an iteration that stops early leaves the rest in the ring for the next reader.
    /// The sequence ends when the reader is closed (also while an iteration waits) or the task
    /// is cancelled. Waiting does not block a thread of the cooperative pool.
    ///
    /// Each record costs an asynchronous call (one that does not suspend while records are
    /// ready) and a copy; ``withNextBatch(isolation:_:)`` hands every record available per
    /// wake-up to a closure in place instead, and is the fastest asynchronous path.
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

            // The copy lives in the iterator itself (a struct), so the per-record path has no
            // class state and no dynamic exclusivity checks.
            @usableFromInline var copier: BatchCopier

            init(reader: RingBufferReader) {
                copier = BatchCopier(reader: reader)
            }

            @inlinable public mutating func next() async throws(ReaderError) -> RingBufferRecord? {
                try await next(isolation: nil)
            }

            /// Runs on the caller's isolation. Inlinable so that a record already copied comes
            /// out through a plain call, without an asynchronous frame or an executor check; only
            /// a refill is an asynchronous call (which suspends only when the rings are empty).
            @inlinable public mutating func next(isolation actor: isolated (any Actor)?) async throws(ReaderError) -> RingBufferRecord? {
                if let record = copier.nextRecord() { return record }
                return try await nextAfterRefill(isolation: actor)
            }

            @usableFromInline mutating func nextAfterRefill(isolation actor: isolated (any Actor)?) async throws(ReaderError) -> RingBufferRecord? {
                while true {
                    guard try await copier.fillOrWait(isolation: actor) else { return nil }
                    if let record = copier.nextRecord() { return record }
                }
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

/// Records copied together out of a ``RingBufferReader`` by ``RingBufferReader/batches``, in the
/// order the reader handed them out. A value that owns its bytes: keeping it, or a record taken
/// from it, keeps the batch's one buffer alive.
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
        return RingBufferRecord(ring: span.ring, bytes: buffer[span.start..<(span.start &+ span.count)])
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
    /// How many records (discarded ones left out) the segments hold.
    private var recordCount = 0
    private var segmentIndex = 0
    // The segment being handed out, in scalars for the per-record path: the buffer offset of the
    // next header, where the segment ends, and what the consumer position becomes.
    private var cursor = 0
    private var segmentEnd = 0
    private var segmentStart = 0
    private var segmentPosition: UInt64 = 0
    private var segmentRing = 0
    /// The current segment's ring's consumer position word; a plain pointer, so giving space back
    /// costs no reference count. Valid while the read slot is held; nil between segments.
    private var consumerPosition: UnsafeMutableRawPointer?

    init(reader: RingBufferReader) {
        self.reader = reader
        self.slot = ReadSlot(poller: reader.poller)
    }

    /// The next copied record, whose space it gives back to the producer; nil when the copy is
    /// used up (its trailing discarded records are then given back too).
    @usableFromInline
    mutating func nextRecord() -> RingBufferRecord? {
        while true {
            while cursor < segmentEnd {
                let header = cursor
                let word = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: header, as: UInt32.self) }
                let length = Int(word & RingBufferHeader.lengthMask)
                let next = header &+ Int(truncatingIfNeeded: RingBufferHeader.footprint(UInt32(truncatingIfNeeded: length)))
                // The headers were checked in the ring before the copy; a forged ring may have
                // changed them since.
                guard next <= segmentEnd, let consumerPosition else {
                    cursor = segmentEnd
                    break
                }
                cursor = next
                if word & RingBufferHeader.discardBit != 0 { continue }
                // Release: the producer may reuse the space; our copy of it is complete.
                cebpf_store_release_u64(consumerPosition, segmentPosition &+ UInt64(next &- segmentStart))
                let start = header &+ RingBufferHeader.size
                return RingBufferRecord(ring: segmentRing, bytes: buffer[start..<(start &+ length)])
            }
            guard advanceSegment() else { return nil }
        }
    }

    /// Gives the rest of the current segment back and moves to the next; false after the last.
    private mutating func advanceSegment() -> Bool {
        if let consumerPosition {
            cebpf_store_release_u64(consumerPosition, segmentPosition &+ UInt64(segmentEnd &- segmentStart))
        }
        consumerPosition = nil
        segmentIndex &+= 1
        guard segmentIndex < segments.count else {
            segments.removeAll(keepingCapacity: true)
            segmentIndex = 0
            cursor = 0
            segmentEnd = 0
            return false
        }
        enterSegment(segments[segmentIndex])
        return true
    }

    private mutating func enterSegment(_ segment: Segment) {
        cursor = segment.start
        segmentStart = segment.start
        segmentEnd = segment.end
        segmentPosition = segment.position
        segmentRing = segment.ring
        consumerPosition = segment.consumerPosition
    }

    /// The whole copy as one batch, its space given back, discarded records at its end included.
    mutating func takeBatch() -> RingBufferBatch {
        var spans: [RecordSpan] = []
        spans.reserveCapacity(recordCount)
        buffer.withUnsafeBytes { bytes in
            for segment in segments {
                var header = segment.start
                while header < segment.end {
                    let word = bytes.loadUnaligned(fromByteOffset: header, as: UInt32.self)
                    let length = Int(word & RingBufferHeader.lengthMask)
                    let next = header &+ Int(truncatingIfNeeded: RingBufferHeader.footprint(UInt32(truncatingIfNeeded: length)))
                    guard next <= segment.end else { break }
                    if word & RingBufferHeader.discardBit == 0 {
                        spans.append(RecordSpan(ring: segment.ring, start: header &+ RingBufferHeader.size, count: length))
                    }
                    header = next
                }
                // Release: the producer may reuse the space; our copy of it is complete.
                cebpf_store_release_u64(segment.consumerPosition, segment.position &+ UInt64(segment.end &- segment.start))
            }
        }
        segments.removeAll(keepingCapacity: true)
        segmentIndex = 0
        cursor = 0
        segmentEnd = 0
        consumerPosition = nil
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
        segmentIndex = 0
        cursor = 0
        segmentEnd = 0
        consumerPosition = nil
        slot.release()
    }

    /// Copies the committed records of the rings into the buffer (up to
    /// ``RingBufferReader/asyncBatchBytes``) without giving their space back; false when the rings
    /// hold nothing committed (not even discarded records).
    private mutating func fill() throws(ReaderError) -> Bool {
        try slot.acquire()
        if reader.poller.isClosed { throw .closed }
        segments.removeAll(keepingCapacity: true)
        segmentIndex = 0
        recordCount = 0
        // Reuses the storage when no record handed out still refers to it; otherwise the
        // copy-on-write array allocates anew and those records keep the old one.
        buffer.removeAll(keepingCapacity: true)
        for index in reader.rings.indices where buffer.count < RingBufferReader.asyncBatchBytes {
            let ring = reader.rings[index]
            guard let run = try reader.committedRun(ring: index, budget: RingBufferReader.asyncBatchBytes &- buffer.count)
            else { continue }
            let start = buffer.count
            // The run is at most the ring's size and the data pages are mapped twice: one
            // contiguous stretch of memory.
            buffer.append(
                contentsOf: UnsafeRawBufferPointer(
                    start: ring.data + Int(truncatingIfNeeded: run.first & ring.mask), count: Int(run.end &- run.first)))
            segments.append(
                Segment(ring: index, start: start, end: buffer.count, position: run.first, consumerPosition: ring.consumerPosition))
            recordCount &+= run.records
        }
        guard let first = segments.first else { return false }
        enterSegment(first)
        return true
    }
}

extension RingBufferReader {
    /// The committed records at the front of ring `index`: from the consumer position up to the
    /// first busy record or the producer position, at most `budget` bytes (a single longer record
    /// still counts), every header checked. Gives nothing back. nil when nothing is committed.
    ///
    /// - Returns: the consumer position, the position past the run, and how many records in it
    ///   were not discarded.
    func committedRun(ring index: Int, budget: Int) throws(ReaderError) -> (first: UInt64, end: UInt64, records: Int)? {
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
        var records = 0
        while offset < stop {
            // Acquire pairs with the release that clears the busy bit on submit.
            let word = cebpf_load_acquire_u32(run + Int(truncatingIfNeeded: offset))
            if word & RingBufferHeader.busyBit != 0 { break }
            let length = word & RingBufferHeader.lengthMask
            let next = offset &+ RingBufferHeader.footprint(length)
            guard next <= limit else {
                throw .corruptRecord(map: ring.mapName, position: first &+ offset, length: UInt64(length), ringSize: ring.size)
            }
            if word & RingBufferHeader.discardBit == 0 { records &+= 1 }
            offset = next
        }
        return offset == 0 ? nil : (first, first &+ offset, records)
    }
}

/// The read slot an iteration holds from its first refill until it ends or its iterator is
/// dropped. Sendable by hand: one iterator, used by one task at a time, owns it.
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
