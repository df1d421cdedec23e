import Glibc

extension EventPoller {
    enum AsyncWaitOutcome: Sendable {
        case ready
        case closed
        case cancelled
        case failed(ReaderError)
    }

    /// Waits for readiness without blocking a thread of Swift's cooperative pool: the blocking
    /// epoll_wait runs on a short-lived thread of its own (Dispatch would do, but it keeps
    /// descriptors of its own open for the rest of the process). Task cancellation wakes it.
    ///
    /// - Parameter holdingReadSlot: the caller already holds the read slot (an iteration in
    ///   progress); otherwise the wait takes it for its duration.
    func waitAsync(holdingReadSlot: Bool = false) async -> AsyncWaitOutcome {
        let outcome = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<AsyncWaitOutcome, Never>) in
                let job = BlockingJob { continuation.resume(returning: self.waitBlocking(holdingReadSlot: holdingReadSlot)) }
                if !job.start() {
                    continuation.resume(returning: .failed(.systemCall(call: "pthread_create", map: label, errno: .resourceTemporarilyUnavailable)))
                }
            }
        } onCancel: {
            self.wake()
        }
        if case .ready = outcome, Task.isCancelled {
            return .cancelled
        }
        return outcome
    }

    private func waitBlocking(holdingReadSlot: Bool) -> AsyncWaitOutcome {
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

/// Runs one closure on a detached thread of its own.
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
