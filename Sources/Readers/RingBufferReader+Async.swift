extension RingBufferReader {
    /// The records as an asynchronous sequence, copied out of the rings in order.
    ///
    /// The sequence ends when the reader is closed (also while an iteration waits) or the task is
    /// cancelled. Waiting does not block a thread of the cooperative pool. One iteration at a time:
    /// a second concurrent one fails with ``ReaderError/concurrentRead``.
    public var records: Records {
        Records(reader: self)
    }

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

            let reader: RingBufferReader

            public mutating func next() async throws(ReaderError) -> RingBufferRecord? {
                while true {
                    if Task.isCancelled { return nil }
                    do throws(ReaderError) {
                        if let record = try reader.nextRecordWithoutWaiting() {
                            return record
                        }
                    } catch .closed {
                        return nil
                    }
                    switch await reader.poller.waitAsync() {
                    case .ready: continue
                    case .closed, .cancelled: return nil
                    case .failed(let error): throw error
                    }
                }
            }
        }
    }

    /// The next record, copied, or nil when every ring is empty now.
    func nextRecordWithoutWaiting() throws(ReaderError) -> RingBufferRecord? {
        try poller.beginRead()
        defer { poller.endRead() }
        return try nextRecordInAnyRing { $0.copy() }
    }
}
