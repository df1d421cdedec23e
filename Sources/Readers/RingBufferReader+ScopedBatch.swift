import CEBPF

// The fastest asynchronous path: one call per wake-up that lends the records to a closure in place.

extension RingBufferReader {
    /// Waits until records are available, then hands them to `body` in place, as one batch, and
    /// returns what `body` returns; nil when the reader is closed (also while waiting) or the task
    /// is cancelled.
    ///
    /// The batch is the run of records one ring holds when the call looks (up to
    /// ``asyncBatchBytes`` of ring; rings take turns), in the order they were committed, discarded
    /// ones skipped; it ends early at a record still being written. Nothing is copied: the records
    /// are the ring's memory, valid only inside `body`, and the space of the whole batch (records
    /// `body` did not visit included) goes back to the producer when `body` returns or throws. The
    /// batch is walked once: iterating it checks each header as it goes, so a batch costs what the
    /// synchronous ``consume(_:)`` costs. A call suspends only when every ring is empty, and then
    /// without blocking a thread of the cooperative pool; while records are ready it returns
    /// without suspending, so calling it in a loop drains a backlog without any thread hop. It runs
    /// `body` on the caller's isolation.
    ///
    /// This is the path for programs that process records as they arrive: decode what you need
    /// inside `body` and keep copies (``RingBufferRecordView/copy()``) only of what must outlive
    /// it. Like any read it takes the reader's single consumer slot for its duration.
    ///
    /// ```swift
    /// while let handled = try await reader.withNextBatch({ batch in
    ///     var handled = 0
    ///     for record in batch {
    ///         guard let event = record.load(as: ExecEvent.self) else { continue }
    ///         print(event.pid)
    ///         handled += 1
    ///     }
    ///     return handled
    /// }) {
    ///     total += handled
    /// }
    /// ```
    ///
    /// - Throws: ``ReaderError`` (``ReaderError/concurrentRead`` while another read runs,
    ///   ``ReaderError/corruptRecord(map:position:length:ringSize:)`` for a header the kernel
    ///   cannot have written, after `body` has seen the records before it), or what `body` throws.
    public func withNextBatch<Result>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (RingBufferBatchView) throws -> Result
    ) async throws -> Result? {
        guard try beginReadUnlessClosed() else { return nil }
        defer { poller.endRead() }
        while true {
            if Task.isCancelled || poller.isClosed { return nil }
            if let outcome = try lendNextRun(body) {
                return try outcome.get()
            }
            switch await poller.waitAsync(holdingReadSlot: true) {
            case .ready: continue
            case .closed, .cancelled: return nil
            case .failed(let error): throw error
            }
        }
    }

    /// Hands batch after batch to `body`, as ``withNextBatch(isolation:_:)`` does, until the reader
    /// is closed or the task is cancelled. The records of each batch are lent in place and go back
    /// to the producer when `body` returns.
    ///
    /// ```swift
    /// try await reader.forEachBatch { batch in
    ///     for record in batch {
    ///         guard let event = record.load(as: ExecEvent.self) else { continue }
    ///         print(event.pid)
    ///     }
    /// }
    /// ```
    ///
    /// - Throws: as ``withNextBatch(isolation:_:)``; the loop ends at the first error.
    public func forEachBatch(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (RingBufferBatchView) throws -> Void
    ) async throws {
        while try await withNextBatch(isolation: isolation, body) != nil {}
    }

    /// Takes the read slot; false when the reader is closed.
    private func beginReadUnlessClosed() throws(ReaderError) -> Bool {
        do throws(ReaderError) {
            try poller.beginRead()
            return true
        } catch {
            if error == .closed { return false }
            throw error
        }
    }

    /// Lends the next ring's run of records to `body`, then gives the run's space back, also when
    /// `body` throws; runs of discarded records only are given back on the way. Returns what `body`
    /// returned or threw; nil when every ring is empty (or starts with a record still being
    /// written). Call only with the read slot held.
    private func lendNextRun<Result>(_ body: (RingBufferBatchView) throws -> Result) throws(ReaderError) -> Outcome<Result>? {
        guard let (index, first, available) = try nextRunStart() else { return nil }
        let ring = rings[index]
        let start = Int(truncatingIfNeeded: first & ring.mask)
        // A heap object rather than a pointer into this frame: a view kept past the closure (which
        // its documentation forbids) then writes into an object it keeps alive, not into a dead
        // stack frame. One allocation per batch.
        let progress = BatchProgress(end: start)
        let batch = RingBufferBatchView(
            ring: index, data: UnsafeRawPointer(ring.data), start: start,
            stop: start &+ Int(truncatingIfNeeded: min(available, UInt64(RingBufferReader.asyncBatchBytes))),
            limit: start &+ Int(truncatingIfNeeded: min(available, ring.size)), progress: progress)
        let outcome = Outcome<Result>(catching: { try body(batch) })
        // What `body` did not visit is walked now: the batch's end is where a full walk ends.
        if !progress.walked {
            var rest = batch.makeIterator()
            while rest.next() != nil {}
        }
        let end = first &+ UInt64(progress.end &- start)
        // Release: the producer may reuse the space once `body` is done with it.
        storeRelease(ring.consumerPosition, end)
        if let corrupt = progress.corruptLength {
            throw .corruptRecord(map: ring.mapName, position: end, length: corrupt, ringSize: ring.size)
        }
        return outcome
    }

    /// The ring whose turn it is and that starts with a committed record, its consumer position
    /// and the bytes up to its producer position; leading discarded records are given back on the
    /// way, so the batch lent from there is never empty. nil when no ring has one.
    private func nextRunStart() throws(ReaderError) -> (ring: Int, first: UInt64, available: UInt64)? {
        try rotation.firstResult(count: rings.count) { index throws(ReaderError) -> (ring: Int, first: UInt64, available: UInt64)? in
            let ring = rings[index]
            var consumer = ring.loadConsumerPosition()
            // Acquire pairs with the kernel's release of the producer position: the headers
            // below it are visible once the position is.
            let producer = ring.loadProducerPosition()
            while consumer < producer {
                // Acquire pairs with the release that clears the busy bit on submit.
                let word = loadAcquire(ring.data + Int(truncatingIfNeeded: consumer & ring.mask))
                if word & RingBufferHeader.busyBit != 0 { return nil }
                let length = word & RingBufferHeader.lengthMask
                let next = consumer &+ RingBufferHeader.footprint(length)
                // Ending past the producer position (or a ring's worth): not the kernel's.
                guard next <= producer, next &- consumer <= ring.size else {
                    throw .corruptRecord(map: ring.mapName, position: consumer, length: UInt64(length), ringSize: ring.size)
                }
                if word & RingBufferHeader.discardBit == 0 {
                    return (index, consumer, producer &- consumer)
                }
                consumer = next
                storeRelease(ring.consumerPosition, consumer)
            }
            return nil
        }
    }
}

/// What the walks of a lent batch found: where the first walk to the end stopped, and why.
/// Touched once per walk, not per record.
@usableFromInline
final class BatchProgress {
    /// The offset (from the ring's data) where the batch ends.
    @usableFromInline var end: Int
    /// Whether some walk reached the batch's end.
    @usableFromInline var walked = false
    /// The length read from the header at `end` when the walk stopped there because that header
    /// cannot be the kernel's.
    @usableFromInline var corruptLength: UInt64?

    init(end: Int) {
        self.end = end
    }
}

/// What a lent batch's closure returned or threw, kept until the batch's space has gone back.
private typealias Outcome<Success> = Swift.Result<Success, any Error>

/// Records lent by ``RingBufferReader/withNextBatch(isolation:_:)``: a run of one ring's records in
/// place, valid only inside the closure it is handed to.
///
/// Iterating it costs what the synchronous ``RingBufferReader/consume(_:)`` costs per record: each
/// header is checked as the walk reaches it, and each record is a view of the ring's memory.
/// Neither the batch nor a record's bytes may escape the closure; copy what must outlive it.
public struct RingBufferBatchView: Sequence {
    public typealias Element = RingBufferRecordView

    /// The index of the ring the records come from, in the order the reader was given the maps.
    public let ring: Int
    @usableFromInline let data: UnsafeRawPointer
    /// Offsets from `data`: the first header; the end of the run (no record starts at or after
    /// it); where every record must end (the producer position, at most a ring's worth on). The
    /// data pages are mapped twice, so the run is contiguous even where it wraps.
    @usableFromInline let start: Int
    @usableFromInline let stop: Int
    @usableFromInline let limit: Int
    /// Where walks report how far the batch goes.
    @usableFromInline let progress: BatchProgress

    init(ring: Int, data: UnsafeRawPointer, start: Int, stop: Int, limit: Int, progress: BatchProgress) {
        self.ring = ring
        self.data = data
        self.start = start
        self.stop = stop
        self.limit = limit
        self.progress = progress
    }

    /// How many records the batch holds (discarded ones not counted); never 0. Walks the batch.
    public var count: Int {
        var count = 0
        for _ in self { count &+= 1 }
        return count
    }

    @inlinable public var underestimatedCount: Int { 1 }

    @inlinable public func makeIterator() -> Iterator {
        Iterator(ring: ring, data: data, offset: start, stop: stop, limit: limit, progress: progress)
    }

    /// Walks a ``RingBufferBatchView``'s records in order, checking each header.
    public struct Iterator: IteratorProtocol {
        @usableFromInline let ring: Int
        @usableFromInline let data: UnsafeRawPointer
        @usableFromInline var offset: Int
        @usableFromInline var stop: Int
        @usableFromInline let limit: Int
        @usableFromInline let progress: BatchProgress

        @inlinable init(ring: Int, data: UnsafeRawPointer, offset: Int, stop: Int, limit: Int, progress: BatchProgress) {
            self.ring = ring
            self.data = data
            self.offset = offset
            self.stop = stop
            self.limit = limit
            self.progress = progress
        }

        /// The next record that was not discarded; nil after the last.
        @inlinable public mutating func next() -> RingBufferRecordView? {
            while offset < stop {
                // Acquire pairs with the release that clears the busy bit on submit.
                let word = loadAcquire(data + offset)
                let length = word & RingBufferHeader.lengthMask
                let next = offset &+ Int(truncatingIfNeeded: RingBufferHeader.footprint(length))
                // Still being written: the batch ends here. Past the producer position or a
                // ring's worth: not the kernel's, the batch ends here with an error.
                guard word & RingBufferHeader.busyBit == 0, next <= limit else { return endWalk(stoppedAt: word) }
                let record = offset &+ RingBufferHeader.size
                offset = next
                if word & RingBufferHeader.discardBit == 0 {
                    return RingBufferRecordView(ring: ring, bytes: UnsafeRawBufferPointer(start: data + record, count: Int(length)))
                }
            }
            return endWalk(stoppedAt: nil)
        }

        /// Tells the lending call where the batch ends, and whether at a header that cannot be the
        /// kernel's (`word`, the header the walk stopped at, is not busy); later calls return nil
        /// without reading.
        @usableFromInline mutating func endWalk(stoppedAt word: UInt32?) -> RingBufferRecordView? {
            if let word, word & RingBufferHeader.busyBit == 0, !progress.walked {
                progress.corruptLength = UInt64(word & RingBufferHeader.lengthMask)
            }
            if !progress.walked || offset > progress.end {
                progress.end = offset
            }
            progress.walked = true
            stop = offset
            return nil
        }
    }
}
