import CEBPF

// The fastest asynchronous path: one call per wake-up that lends the records to a closure in place.

extension RingBufferReader {
    /// Waits until records are available, then hands them to `body` in place, as one batch, and
    /// returns what `body` returns; nil when the reader is closed (also while waiting) or the task
    /// is cancelled.
    ///
    /// The batch is the run of records one ring holds when the call looks (up to
    /// ``asyncBatchBytes`` of ring; rings take turns), in the order they were committed, discarded
    /// ones skipped. Nothing is copied: the records are the ring's memory, valid only inside
    /// `body`, and their space goes back to the producer when `body` returns (or throws). A call
    /// suspends only when every ring is empty, and then without blocking a thread of the
    /// cooperative pool; while records are ready it returns without suspending, so calling it in a
    /// loop drains a backlog at the speed of the synchronous ``consume(_:)``. It runs `body` on the
    /// caller's isolation.
    ///
    /// This is the path for programs that process records as they arrive: decode what you need
    /// inside `body` and keep copies (``RingBufferRecordView/copy()``) only of what must outlive
    /// it. Like any read it takes the reader's single consumer slot for its duration.
    ///
    /// ```swift
    /// while let handled = try await reader.withNextBatch({ batch in
    ///     for record in batch {
    ///         guard let event = record.load(as: ExecEvent.self) else { continue }
    ///         print(event.pid)
    ///     }
    ///     return batch.count
    /// }) {
    ///     total += handled
    /// }
    /// ```
    ///
    /// - Throws: ``ReaderError`` (``ReaderError/concurrentRead`` while another read runs,
    ///   ``ReaderError/corruptRecord(map:position:length:ringSize:)`` for a header the kernel
    ///   cannot have written), or what `body` throws.
    public func withNextBatch<Result>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (RingBufferBatchView) throws -> Result
    ) async throws -> Result? {
        guard try beginReadUnlessClosed() else { return nil }
        defer { poller.endRead() }
        while true {
            if Task.isCancelled || poller.isClosed { return nil }
            if let run = try nextRun() {
                return try lend(run, to: body)
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

    /// Runs `body` on the batch, then gives the batch's space back to the producer, also when
    /// `body` throws.
    private func lend<Result>(
        _ run: (batch: RingBufferBatchView, end: UInt64), to body: (RingBufferBatchView) throws -> Result
    ) rethrows -> Result {
        // Release: the producer may reuse the space once `body` is done with it.
        defer { cebpf_store_release_u64(rings[run.batch.ring].consumerPosition, run.end) }
        return try body(run.batch)
    }

    /// The next ring's committed run as a batch and the consumer position past it; runs of
    /// discarded records only are given back on the way. nil when every ring is empty. Call only
    /// with the read slot held.
    private func nextRun() throws(ReaderError) -> (batch: RingBufferBatchView, end: UInt64)? {
        try rotation.firstResult(count: rings.count) { index throws(ReaderError) -> (batch: RingBufferBatchView, end: UInt64)? in
            while let run = try committedRun(ring: index, budget: RingBufferReader.asyncBatchBytes) {
                let ring = rings[index]
                guard run.records > 0 else {
                    cebpf_store_release_u64(ring.consumerPosition, run.end)
                    continue
                }
                let start = Int(truncatingIfNeeded: run.first & ring.mask)
                let batch = RingBufferBatchView(
                    ring: index, count: run.records, data: UnsafeRawPointer(ring.data), start: start,
                    end: start &+ Int(truncatingIfNeeded: run.end &- run.first))
                return (batch, run.end)
            }
            return nil
        }
    }
}

/// Records lent by ``RingBufferReader/withNextBatch(isolation:_:)``: a run of one ring's records in
/// place, valid only inside the closure it is handed to.
///
/// Iterating it costs what the synchronous ``RingBufferReader/consume(_:)`` costs per record: the
/// headers were checked when the batch was taken, and each record is a view of the ring's memory.
/// Neither the batch nor a record's bytes may escape the closure; copy what must outlive it.
public struct RingBufferBatchView: Sequence {
    public typealias Element = RingBufferRecordView

    /// The index of the ring the records come from, in the order the reader was given the maps.
    public let ring: Int
    /// How many records the batch holds (discarded ones not counted); never 0.
    public let count: Int
    @usableFromInline let data: UnsafeRawPointer
    /// The offsets from `data` of the first header and of the end of the run; the data pages
    /// are mapped twice, so the run is contiguous even where it wraps.
    @usableFromInline let start: Int
    @usableFromInline let end: Int

    init(ring: Int, count: Int, data: UnsafeRawPointer, start: Int, end: Int) {
        self.ring = ring
        self.count = count
        self.data = data
        self.start = start
        self.end = end
    }

    @inlinable public var underestimatedCount: Int { count }

    @inlinable public func makeIterator() -> Iterator {
        Iterator(ring: ring, data: data, offset: start, end: end)
    }

    /// Walks a ``RingBufferBatchView``'s records in order.
    public struct Iterator: IteratorProtocol {
        @usableFromInline let ring: Int
        @usableFromInline let data: UnsafeRawPointer
        @usableFromInline var offset: Int
        @usableFromInline let end: Int

        @inlinable init(ring: Int, data: UnsafeRawPointer, offset: Int, end: Int) {
            self.ring = ring
            self.data = data
            self.offset = offset
            self.end = end
        }

        /// The next record that was not discarded; nil after the last.
        @inlinable public mutating func next() -> RingBufferRecordView? {
            while offset < end {
                // The headers were read with acquire ordering and checked when the batch was
                // taken; the kernel does not change a committed header, but a forged ring might,
                // so the walk stays inside the run whatever it reads.
                let word = data.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
                let length = Int(word & RingBufferHeader.lengthMask)
                let next = offset &+ Int(truncatingIfNeeded: RingBufferHeader.footprint(word & RingBufferHeader.lengthMask))
                guard next <= end else {
                    offset = end
                    return nil
                }
                let record = offset &+ RingBufferHeader.size
                offset = next
                if word & RingBufferHeader.discardBit == 0 {
                    return RingBufferRecordView(ring: ring, bytes: UnsafeRawBufferPointer(start: data + record, count: length))
                }
            }
            return nil
        }
    }
}
