import Glibc
import Synchronization

extension EventPoller {
    enum AsyncWaitOutcome: Sendable {
        case ready
        case closed
        case cancelled
        case failed(ReaderError)
    }

    /// Waits for readiness without blocking a thread of Swift's cooperative pool: the blocking
    /// `epoll_wait` runs on the reader's waiting thread (``AsyncWaiter``), started on the first
    /// wait and kept until the reader is closed, so a wait costs a hand-over to that thread and a
    /// continuation resumed from it, not a thread of its own. Task cancellation wakes it.
    ///
    /// Callers look at the rings first and come here only when they are empty.
    ///
    /// - Parameter holdingReadSlot: the caller already holds the read slot (an iteration in
    ///   progress); otherwise the wait takes it for its duration.
    func waitAsync(holdingReadSlot: Bool = false) async -> AsyncWaitOutcome {
        if Task.isCancelled { return .cancelled }
        asyncWaitCount.add(1, ordering: .relaxed)
        let outcome = await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<AsyncWaitOutcome, Never>) in
                asyncWaiter.submit(poller: self, holdingReadSlot: holdingReadSlot, continuation)
            }
        } onCancel: {
            self.wake()
        }
        if case .ready = outcome, Task.isCancelled {
            return .cancelled
        }
        return outcome
    }

    /// The blocking half of ``waitAsync(holdingReadSlot:)``, run on the waiting thread.
    func waitBlocking(holdingReadSlot: Bool) -> AsyncWaitOutcome {
        if !holdingReadSlot {
            do throws(ReaderError) {
                try beginRead()
            } catch .closed {
                return .closed
            } catch {
                return .failed(error)
            }
        }
        defer { if !holdingReadSlot { endRead() } }
        do throws(ReaderError) {
            _ = try wait(until: nil)
            return .ready
        } catch .closed {
            return .closed
        } catch {
            return .failed(error)
        }
    }
}

/// Runs one closure on a detached thread of its own (tests run blocking reads on one).
final class BlockingJob: Sendable {
    private let body: @Sendable () -> Void

    init(_ body: @escaping @Sendable () -> Void) {
        self.body = body
    }

    /// Starts the thread; false when the system refused one.
    func start() -> Bool {
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { context in
            guard let context else { return nil }
            let job = Unmanaged<BlockingJob>.fromOpaque(context).takeRetainedValue()
            job.body()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<BlockingJob>.fromOpaque(context).release()
            return false
        }
        pthread_detach(thread)
        return true
    }
}
