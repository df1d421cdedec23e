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
    /// Each record costs an asynchronous call; ``batches`` hands out everything available per
    /// wake-up instead and is several times faster under load.
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

            // The batch lives in the iterator itself (a struct), so the per-record path has no
            // class state and no dynamic exclusivity checks.
            private var copier: BatchCopier
            private var nextSpan = 0

            init(reader: RingBufferReader) {
                copier = BatchCopier(reader: reader)
            }

            public mutating func next() async throws(ReaderError) -> RingBufferRecord? {
                try await next(isolation: nil)
            }

            /// Runs on the caller's isolation: no executor hop per record.
            public mutating func next(isolation actor: isolated (any Actor)?) async throws(ReaderError) -> RingBufferRecord? {
                while true {
                    if nextSpan < copier.spans.count {
                        let span = copier.spans[nextSpan]
                        nextSpan &+= 1
                        copier.giveBack(upTo: span)
                        return RingBufferRecord(ring: span.ring, bytes: copier.buffer[span.start..<(span.start &+ span.count)])
                    }
                    // Discarded records after the last one handed out.
                    copier.giveBackBatch()
                    nextSpan = 0
                    guard try await copier.fillOrWait(isolation: actor) else { return nil }
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
                    let batch = RingBufferBatch(buffer: copier.buffer, spans: copier.spans)
                    copier.giveBackBatch()
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

/// Where one copied record sits in a batch's buffer, and how far its ring's consumer position may
/// advance once it is handed out (past any discarded records before it).
@usableFromInline
struct RecordSpan: Sendable {
    @usableFromInline var ring: Int
    @usableFromInline var start: Int
    @usableFromInline var count: Int
    var after: UInt64

    init(ring: Int, start: Int, count: Int, after: UInt64) {
        self.ring = ring
        self.start = start
        self.count = count
        self.after = after
    }
}

/// The copying and waiting both asynchronous sequences share: it holds the reader's read slot for
/// the iteration, copies what the rings hold into one buffer, and gives the space back when told.
struct BatchCopier {
    let reader: RingBufferReader
    private let slot: ReadSlot
    /// Each ring's consumer position word; a plain pointer, so giving space back costs no
    /// reference count. Valid while the read slot is held.
    private let consumerPositions: [UnsafeMutableRawPointer]
    private var finished = false
    private(set) var buffer: [UInt8] = []
    /// The records copied, discarded ones left out.
    private(set) var spans: [RecordSpan] = []
    /// Each ring's consumer position past everything copied (discarded records included), for
    /// the rings this batch read from.
    private var batchEnds: [(ring: Int, end: UInt64)] = []

    init(reader: RingBufferReader) {
        self.reader = reader
        self.slot = ReadSlot(poller: reader.poller)
        self.consumerPositions = reader.rings.map(\.consumerPosition)
    }

    /// Gives the space up to and including `span`'s record back to its ring's producer.
    @inline(__always)
    func giveBack(upTo span: RecordSpan) {
        // Release: the producer may reuse the space; our copy of it is complete.
        cebpf_store_release_u64(consumerPositions[span.ring], span.after)
    }

    /// Gives the space of the whole batch back, discarded records at its end included, and
    /// forgets the batch.
    mutating func giveBackBatch() {
        for (ring, end) in batchEnds {
            cebpf_store_release_u64(consumerPositions[ring], end)
        }
        batchEnds.removeAll(keepingCapacity: true)
        spans.removeAll(keepingCapacity: true)
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
        spans.removeAll()
        batchEnds.removeAll()
        slot.release()
    }

    /// Copies the records available now into the buffer; false when the rings hold nothing
    /// committed (not even discarded records).
    private mutating func fill() throws(ReaderError) -> Bool {
        try slot.acquire()
        if reader.poller.isClosed { throw .closed }
        spans.removeAll(keepingCapacity: true)
        batchEnds.removeAll(keepingCapacity: true)
        // Reuses the storage when no record handed out still refers to it; otherwise the
        // copy-on-write array allocates anew and those records keep the old one.
        buffer.removeAll(keepingCapacity: true)
        for index in reader.rings.indices where buffer.count < RingBufferReader.asyncBatchBytes {
            if let end = try reader.copyAvailable(ring: index, into: &buffer, spans: &spans) {
                batchEnds.append((index, end))
            }
        }
        return !batchEnds.isEmpty
    }
}

extension RingBufferReader {
    /// Copies the committed records of ring `index` into `storage` (up to ``asyncBatchBytes``)
    /// without giving their space back; stops at a busy record. Returns the consumer position past
    /// what it copied or skipped, nil when it found nothing.
    ///
    /// The headers are checked first and the records then copied with one `memcpy`, headers and
    /// discarded records included: copying record by record costs more than the extra bytes.
    func copyAvailable(ring index: Int, into storage: inout [UInt8], spans: inout [RecordSpan]) throws(ReaderError) -> UInt64? {
        let ring = rings[index]
        let first = ring.loadConsumerPosition()
        var consumer = first
        let producer = ring.loadProducerPosition()
        let base = storage.count
        let budget = UInt64(max(RingBufferReader.asyncBatchBytes &- base, 0))
        // What is scanned here never exceeds the ring's size (checked below), and the data pages
        // are mapped twice, so it is one contiguous run of memory.
        while consumer < producer, consumer &- first < budget {
            let header = ring.data + Int(consumer & ring.mask)
            let word = cebpf_load_acquire_u32(header)
            if word & RingBufferHeader.busyBit != 0 { break }
            let length = word & ~(RingBufferHeader.busyBit | RingBufferHeader.discardBit)
            guard UInt64(length) <= ring.size - UInt64(RingBufferHeader.size) else {
                throw .corruptRecord(map: ring.mapName, position: consumer, length: UInt64(length), ringSize: ring.size)
            }
            let next = consumer &+ RingBufferHeader.footprint(length)
            guard next <= producer, next &- first <= ring.size else {
                // A committed record ends before the producer position, and the kernel's never
                // holds more than a ring's worth: this header or position is forged.
                throw .corruptRecord(map: ring.mapName, position: consumer, length: UInt64(length), ringSize: ring.size)
            }
            if word & RingBufferHeader.discardBit == 0 {
                let start = base &+ Int(consumer &- first) &+ RingBufferHeader.size
                spans.append(RecordSpan(ring: index, start: start, count: Int(length), after: next))
            }
            consumer = next
        }
        guard consumer != first else { return nil }
        storage.append(contentsOf: UnsafeRawBufferPointer(start: ring.data + Int(first & ring.mask), count: Int(consumer &- first)))
        return consumer
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
