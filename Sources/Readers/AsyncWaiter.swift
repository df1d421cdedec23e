import EBPFSys
import Glibc

/// The thread that does a reader's blocking waits for its asynchronous reads.
///
/// Swift's cooperative pool must not block in `epoll_wait`, and starting a thread per wait costs
/// more than the wait's bookkeeping. So each reader that waits asynchronously gets one thread, on
/// its first wait; between waits it sleeps on a condition variable, and the reader's
/// ``EventPoller/close()`` ends it. A ring has a single consumer, so there is at most one wait at
/// a time. The thread keeps no reference to the reader: a request brings the poller along and the
/// thread drops it once it has answered.
final class AsyncWaiter: @unchecked Sendable {
    // Sendable by hand: every mutable field is guarded by `lock`.
    private struct Request {
        let poller: EventPoller
        let holdingReadSlot: Bool
        let continuation: UnsafeContinuation<EventPoller.AsyncWaitOutcome, Never>
    }

    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var request: Request?
    private var thread: pthread_t?
    private var stopping = false

    /// The waiting thread's stack: it runs `epoll_wait` and resumes continuations, nothing deep.
    private static let stackSize = 512 * 1024

    init() {
        pthread_mutex_init(lock, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        // The thread holds a reference until it exits, so it is gone when this runs.
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(lock)
        condition.deallocate()
        lock.deallocate()
    }

    /// Hands a wait to the thread (starting it the first time), which resumes `continuation` with
    /// the outcome. After ``stop()`` the outcome is ``EventPoller/AsyncWaitOutcome/closed`` at once.
    func submit(
        poller: EventPoller, holdingReadSlot: Bool,
        _ continuation: UnsafeContinuation<EventPoller.AsyncWaitOutcome, Never>
    ) {
        pthread_mutex_lock(lock)
        if stopping {
            pthread_mutex_unlock(lock)
            continuation.resume(returning: .closed)
            return
        }
        if request != nil {
            // Two waits at once: only possible for readers whose waits take the read slot, which
            // they would not get.
            pthread_mutex_unlock(lock)
            continuation.resume(returning: .failed(.concurrentRead))
            return
        }
        if thread == nil {
            switch startThread() {
            case .success(let started):
                thread = started
            case .failure(let errno):
                pthread_mutex_unlock(lock)
                continuation.resume(
                    returning: .failed(.systemCall(call: "pthread_create", map: poller.label, errno: errno)))
                return
            }
        }
        request = Request(poller: poller, holdingReadSlot: holdingReadSlot, continuation: continuation)
        pthread_cond_signal(condition)
        pthread_mutex_unlock(lock)
    }

    /// Ends the thread once it has answered the wait in progress, if any (the caller makes that
    /// wait end: closing the poller does). Waits for the thread to exit unless called on it.
    /// Calling it again does nothing.
    func stop() {
        pthread_mutex_lock(lock)
        stopping = true
        let running = thread
        thread = nil
        pthread_cond_signal(condition)
        pthread_mutex_unlock(lock)
        guard let running else { return }
        if pthread_equal(running, pthread_self()) != 0 {
            // The last reference to the poller went away on the thread itself.
            pthread_detach(running)
        } else {
            pthread_join(running, nil)
        }
    }

    private func startThread() -> Result<pthread_t, Errno> {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, Self.stackSize)
        // Signals go to the application's threads, not to this one.
        var allSignals = sigset_t()
        var previous = sigset_t()
        sigfillset(&allSignals)
        pthread_sigmask(SIG_SETMASK, &allSignals, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        let context = Unmanaged.passRetained(self).toOpaque()
        var started = pthread_t()
        let result = pthread_create(&started, &attributes, { context in
            guard let context else { return nil }
            let waiter = Unmanaged<AsyncWaiter>.fromOpaque(context).takeRetainedValue()
            waiter.run()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<AsyncWaiter>.fromOpaque(context).release()
            return .failure(Errno(rawValue: result))
        }
        return .success(started)
    }

    /// The thread's loop.
    private func run() {
        while serveOne() {}
    }

    /// Sleeps until a request comes, waits for the rings and resumes the request's continuation;
    /// false once stopped. The request, and with it the poller, is released when this returns,
    /// before the lock is taken again: the poller's deinit may run then and call ``stop()``.
    private func serveOne() -> Bool {
        pthread_mutex_lock(lock)
        while request == nil, !stopping {
            pthread_cond_wait(condition, lock)
        }
        guard let current = request else {
            pthread_mutex_unlock(lock)
            return false
        }
        request = nil
        pthread_mutex_unlock(lock)
        let outcome = current.poller.waitBlocking(holdingReadSlot: current.holdingReadSlot)
        current.continuation.resume(returning: outcome)
        return true
    }
}
