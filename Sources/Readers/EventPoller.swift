import CEBPF
import EBPFSys
import Glibc
import Synchronization

/// The waiting half of every reader: an epoll instance over the rings' descriptors plus an eventfd
/// that ``wake()`` writes, so that a close or a cancellation from another thread ends a wait.
///
/// It also tracks the reader's lifecycle. A ring has exactly one consumer, so one read runs at a
/// time; ``close()`` may come from any thread while that read is waiting. The memory and the
/// descriptors must outlive the read that uses them, so they are released by whoever comes last:
/// ``close()`` when no read is running, otherwise the read when it leaves.
final class EventPoller: Sendable {
    private let epollDescriptor: Int32
    private let wakeDescriptor: Int32
    let label: String

    private struct State {
        var closed = false
        var reading = false
        var released = false
    }
    private let state = Mutex(State())
    /// Runs once, when the owner's resources may go: after close with no read in flight.
    private let releaseResources: @Sendable () -> Void
    /// The thread that does the blocking waits of asynchronous reads; none until the first.
    let asyncWaiter = AsyncWaiter()
    /// How many asynchronous waits were handed to ``asyncWaiter``: tests check that reads which
    /// find records ready do not wait.
    let asyncWaitCount = Atomic<Int>(0)

    /// The token ``wait(until:)`` never returns: the eventfd's.
    private static let wakeToken = UInt64.max

    enum Outcome {
        /// Some registered descriptor is ready (or the wait was woken without a close).
        case ready
        case timedOut
    }

    init(label: String, releaseResources: @escaping @Sendable () -> Void) throws(ReaderError) {
        self.label = label
        self.releaseResources = releaseResources
        let epoll: Int32
        switch SystemCalls.epollCreate(flags: Int32(EPOLL_CLOEXEC)) {
        case .success(let descriptor): epoll = descriptor
        case .failure(let error): throw .systemCall(call: "epoll_create1", map: label, errno: error)
        }
        let wake: Int32
        switch SystemCalls.eventfd(initialValue: 0, flags: Int32(EFD_CLOEXEC | EFD_NONBLOCK)) {
        case .success(let descriptor):
            wake = descriptor
        case .failure(let error):
            SystemCalls.close(epoll)
            throw .systemCall(call: "eventfd", map: label, errno: error)
        }
        // Registered before the descriptors become properties: once every property is set, a
        // throw runs deinit, which would close them a second time (and maybe another thread's
        // descriptors that got the numbers meanwhile).
        do throws(ReaderError) {
            try Self.register(wake, token: Self.wakeToken, epoll: epoll, label: label)
        } catch {
            SystemCalls.close(epoll)
            SystemCalls.close(wake)
            throw error
        }
        epollDescriptor = epoll
        wakeDescriptor = wake
    }

    deinit {
        asyncWaiter.stop()
        SystemCalls.close(epollDescriptor)
        SystemCalls.close(wakeDescriptor)
    }

    /// Watches `descriptor` for readability.
    func register(_ descriptor: Int32, token: UInt64) throws(ReaderError) {
        try Self.register(descriptor, token: token, epoll: epollDescriptor, label: label)
    }

    private static func register(_ descriptor: Int32, token: UInt64, epoll: Int32, label: String) throws(ReaderError) {
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.u64 = token
        if case .failure(let error) = SystemCalls.epollControl(
            epoll, operation: EPOLL_CTL_ADD, descriptor: descriptor, event: &event)
        {
            throw .systemCall(call: "epoll_ctl", map: label, errno: error)
        }
    }

    // MARK: - Lifecycle

    var isClosed: Bool {
        state.withLock { $0.closed }
    }

    /// Runs `body` while the resources are certain to stay mapped; nil once they are released.
    /// For short queries (pending bytes) that may run beside a read.
    func withResources<Result>(_ body: () -> Result) -> Result? {
        state.withLock { state in state.released ? nil : body() }
    }

    /// Claims the single consumer slot.
    func beginRead() throws(ReaderError) {
        let outcome: ReaderError? = state.withLock { state in
            if state.closed { return .closed }
            if state.reading { return .concurrentRead }
            state.reading = true
            return nil
        }
        if let outcome { throw outcome }
    }

    /// Gives the consumer slot back; releases the resources when a close came meanwhile.
    func endRead() {
        let release = state.withLock { state -> Bool in
            state.reading = false
            guard state.closed, !state.released else { return false }
            state.released = true
            return true
        }
        if release { releaseResources() }
    }

    /// Marks the reader closed and wakes a waiting read. Calling it again does nothing.
    func close() {
        let release = state.withLock { state -> Bool in
            guard !state.closed else { return false }
            state.closed = true
            guard !state.reading else { return false }
            state.released = true
            return true
        }
        wake()
        // The waiting thread answers its wait, if any, with the close and ends.
        asyncWaiter.stop()
        if release { releaseResources() }
    }

    /// Ends a wait in progress (or the next one) without closing.
    func wake() {
        _ = eventfd_write(wakeDescriptor, 1)
    }

    // MARK: - Waiting

    /// Blocks until a registered descriptor is ready, ``wake()`` or ``close()`` is called, or the
    /// deadline passes. Call only between ``beginRead()`` and ``endRead()``.
    /// - Throws: ``ReaderError/closed`` when the reader was closed.
    func wait(until deadline: ContinuousClock.Instant?) throws(ReaderError) -> Outcome {
        var events = (epoll_event(), epoll_event(), epoll_event(), epoll_event())
        while true {
            if isClosed { throw .closed }
            let timeout = Self.milliseconds(until: deadline)
            if timeout == 0, deadline != nil, ContinuousClock.now >= (deadline ?? .now) {
                return .timedOut
            }
            let waited = withUnsafeMutableBytes(of: &events) { raw in
                let base = raw.baseAddress?.assumingMemoryBound(to: epoll_event.self)
                return SystemCalls.epollWait(epollDescriptor, events: base, capacity: 4, timeout: timeout)
            }
            let count: Int32
            switch waited {
            case .success(let value):
                count = value
            case .failure(.interrupted):
                continue
            case .failure(let error):
                throw .systemCall(call: "epoll_wait", map: label, errno: error)
            }
            if count == 0 {
                // A timeout: the next turn checks the deadline (epoll rounds to milliseconds).
                continue
            }
            var woken = false
            withUnsafeBytes(of: &events) { raw in
                for index in 0..<Int(count) {
                    let event = raw.load(fromByteOffset: index * MemoryLayout<epoll_event>.stride, as: epoll_event.self)
                    if event.data.u64 == Self.wakeToken { woken = true }
                }
            }
            if woken {
                var value: eventfd_t = 0
                _ = eventfd_read(wakeDescriptor, &value)
                if isClosed { throw .closed }
            }
            return .ready
        }
    }

    /// The epoll timeout for `deadline`: -1 without one, else the milliseconds left, rounded up.
    private static func milliseconds(until deadline: ContinuousClock.Instant?) -> Int32 {
        guard let deadline else { return -1 }
        let left = ContinuousClock.now.duration(to: deadline)
        if left <= .zero { return 0 }
        let (seconds, attoseconds) = left.components
        let milliseconds = seconds.multipliedReportingOverflow(by: 1000)
        guard !milliseconds.overflow else { return Int32.max }
        let total = milliseconds.partialValue.addingReportingOverflow((attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
        guard !total.overflow else { return Int32.max }
        return Int32(clamping: total.partialValue)
    }
}

/// Closes a raw descriptor that came from the kernel without a `FileDescriptor` owner yet.
func closeQuietly(_ descriptor: Int32) {
    SystemCalls.close(descriptor)
}

/// The system page size.
let systemPageSize: Int = max(Int(sysconf(Int32(_SC_PAGESIZE))), 4096)
