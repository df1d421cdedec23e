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
    public var records: Records {
        Records(reader: self)
    }

    /// How many bytes of records one batch of ``records`` copies at most.
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
            // class state and no dynamic exclusivity checks; only the read slot needs a class,
            // to give it back when the iterator is dropped.
            let reader: RingBufferReader
            private let slot: ReadSlot
            private var finished = false
            private var buffer: [UInt8] = []
            private var entries: [BatchEntry] = []
            private var nextEntry = 0

            init(reader: RingBufferReader) {
                self.reader = reader
                self.slot = ReadSlot(poller: reader.poller)
            }

            public mutating func next() async throws(ReaderError) -> RingBufferRecord? {
                try await next(isolation: nil)
            }

            /// Runs on the caller's isolation: no executor hop per record.
            public mutating func next(isolation actor: isolated (any Actor)?) async throws(ReaderError) -> RingBufferRecord? {
                while true {
                    if let record = nextBuffered() {
                        return record
                    }
                    if finished || Task.isCancelled {
                        finish()
                        return nil
                    }
                    do throws(ReaderError) {
                        if try refill() { continue }
                    } catch .closed {
                        finish()
                        return nil
                    } catch {
                        finish()
                        throw error
                    }
                    switch await reader.poller.waitAsync(holdingReadSlot: true) {
                    case .ready: continue
                    case .closed, .cancelled:
                        finish()
                        return nil
                    case .failed(let error):
                        finish()
                        throw error
                    }
                }
            }

            private mutating func finish() {
                finished = true
                entries.removeAll()
                nextEntry = 0
                slot.release()
            }

            /// The next copied record, releasing its space in the ring; nil when the batch is used up.
            @inline(__always)
            private mutating func nextBuffered() -> RingBufferRecord? {
                while nextEntry < entries.count {
                    let entry = entries[nextEntry]
                    nextEntry &+= 1
                    // Release: the producer may reuse the space; our copy of it is complete.
                    cebpf_store_release_u64(reader.rings[entry.ring].consumerPosition, entry.after)
                    if entry.discarded { continue }
                    return RingBufferRecord(ring: entry.ring, bytes: buffer[entry.start..<(entry.start &+ entry.count)])
                }
                return nil
            }

            /// Copies the records available now into a fresh buffer; false when there are none.
            private mutating func refill() throws(ReaderError) -> Bool {
                try slot.acquire()
                if reader.poller.isClosed { throw .closed }
                entries.removeAll(keepingCapacity: true)
                nextEntry = 0
                // Reuses the storage when no record handed out still refers to it; otherwise the
                // copy-on-write array allocates anew and those records keep the old one.
                buffer.removeAll(keepingCapacity: true)
                for index in reader.rings.indices where buffer.count < RingBufferReader.asyncBatchBytes {
                    try reader.copyAvailable(ring: index, into: &buffer, entries: &entries)
                }
                return !entries.isEmpty
            }
        }
    }

    struct BatchEntry {
        var ring: Int
        var start: Int
        var count: Int
        /// The ring's consumer position once this record (and any discarded ones before it) is
        /// handed out.
        var after: UInt64
        var discarded: Bool
    }

    /// Copies the committed records of ring `index` into `storage` (up to ``asyncBatchBytes``)
    /// without giving their space back; stops at a busy record.
    func copyAvailable(ring index: Int, into storage: inout [UInt8], entries: inout [BatchEntry]) throws(ReaderError) {
        let ring = rings[index]
        var consumer = ring.loadConsumerPosition()
        let producer = ring.loadProducerPosition()
        while consumer < producer, storage.count < RingBufferReader.asyncBatchBytes {
            let header = ring.data + Int(consumer & ring.mask)
            let word = cebpf_load_acquire_u32(header)
            if word & RingBufferHeader.busyBit != 0 { return }
            let length = word & ~(RingBufferHeader.busyBit | RingBufferHeader.discardBit)
            guard UInt64(length) <= ring.size - UInt64(RingBufferHeader.size) else {
                throw .corruptRecord(map: ring.mapName, position: consumer, length: UInt64(length), ringSize: ring.size)
            }
            let discarded = word & RingBufferHeader.discardBit != 0
            let start = storage.count
            if !discarded {
                let data = ring.data + Int((consumer &+ UInt64(RingBufferHeader.size)) & ring.mask)
                storage.append(contentsOf: UnsafeRawBufferPointer(start: data, count: Int(length)))
            }
            consumer &+= RingBufferHeader.footprint(length)
            entries.append(BatchEntry(ring: index, start: start, count: Int(length), after: consumer, discarded: discarded))
        }
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
