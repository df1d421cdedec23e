// The read loop the ring buffer and perf readers share: hold the single consumer slot, try the
// rings, wait, try again.

extension EventPoller {
    /// Holds the read slot and runs `attempt` until it returns a result, waiting for the rings
    /// in between.
    /// - Throws: ``ReaderError/timedOut`` when `deadline` passes first, ``ReaderError/closed``
    ///   when the reader is or gets closed, or what `attempt` throws.
    func readNext<Result>(
        deadline: ContinuousClock.Instant?, _ attempt: () throws(ReaderError) -> Result?
    ) throws(ReaderError) -> Result {
        try beginRead()
        defer { endRead() }
        while true {
            if let result = try attempt() {
                return result
            }
            if case .timedOut = try wait(until: deadline) {
                throw .timedOut
            }
        }
    }
}

/// Which ring a reader tries first: rings take turns so that a busy one does not starve the
/// others.
struct RingRotation {
    private var next = 0

    /// The first result `attempt` gives for the rings `0..<count`, starting after the ring that
    /// gave the previous one; nil when none does.
    mutating func firstResult<Result>(
        count: Int, _ attempt: (Int) throws(ReaderError) -> Result?
    ) throws(ReaderError) -> Result? {
        for step in 0..<count {
            var index = next &+ step
            if index >= count { index -= count }
            if let result = try attempt(index) {
                next = index &+ 1 == count ? 0 : index &+ 1
                return result
            }
        }
        return nil
    }
}

/// Runs a throwing `body` through `read`, which takes only non-throwing ones: `body`'s error is
/// carried out and thrown again. A record whose `body` threw is consumed all the same.
func readRethrowing<View, Result>(
    _ body: (View) throws -> Result,
    through read: ((View) -> Result?) throws(ReaderError) -> Result?
) throws -> Result {
    var failure: (any Error)?
    let result = try withoutActuallyEscaping(body) { body throws(ReaderError) in
        try read { view -> Result? in
            do {
                return try body(view)
            } catch {
                failure = error
                return nil
            }
        }
    }
    if let failure { throw failure }
    guard let result else { throw ReaderError.closed }
    return result
}
