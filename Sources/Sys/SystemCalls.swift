import CEBPF
import Glibc
import Synchronization

/// A system call the library makes on a kernel object, as a test's interceptor sees it.
///
/// Every call of these kinds goes through one function of ``SystemCalls`` (bpf(2) through
/// ``BPFSyscall``), so a test can fail any of them with an errno of its choice and check what the
/// caller does with the failure.
package enum SystemCall: Sendable, Hashable, CustomStringConvertible {
    case bpf(BPFCommand)
    case perfEventOpen
    /// A perf event ioctl (`PERF_EVENT_IOC_SET_BPF`, `_ENABLE`, `_PAUSE_OUTPUT`...).
    case ioctl(request: UInt)
    case epollCreate
    case epollControl
    case epollWait
    case eventfd
    case mmap(length: Int)
    case munmap(length: Int)
    /// A line appended to a tracefs control file (`kprobe_events`, `uprobe_events`).
    case tracefsWrite(file: String, line: String)
    /// `open(2)` of a file whose descriptor the library keeps (a cgroup, a network namespace, a
    /// bpffs directory for a token).
    case open(path: String)
    /// `fcntl(F_DUPFD_CLOEXEC)`: a descriptor duplicated for a second owner.
    case duplicate
    /// `socket(2)` of `family` (`AF_NETLINK` is 16).
    case socket(family: Int32)
    case bind
    /// `setsockopt(2)` of `option` at `level`.
    case setSocketOption(level: Int32, option: Int32)
    /// `sendto(2)`.
    case send
    /// `recv(2)` with `flags` (`MSG_PEEK | MSG_TRUNC` to size a datagram first).
    case receive(flags: Int32)
    /// A close. Interceptors only observe it: the descriptor is closed whatever they answer, as
    /// Linux releases it even when close(2) fails.
    case close(descriptor: Int32)

    package var description: String {
        switch self {
        case .bpf(let command): "bpf(\(command))"
        case .perfEventOpen: "perf_event_open"
        case .ioctl(let request): "ioctl(0x\(String(request, radix: 16)))"
        case .epollCreate: "epoll_create1"
        case .epollControl: "epoll_ctl"
        case .epollWait: "epoll_wait"
        case .eventfd: "eventfd"
        case .mmap(let length): "mmap(\(length) bytes)"
        case .munmap(let length): "munmap(\(length) bytes)"
        case .tracefsWrite(let file, let line): "write \"\(line)\" to \(file)"
        case .open(let path): "open(\(path))"
        case .duplicate: "fcntl(F_DUPFD_CLOEXEC)"
        case .socket(let family): "socket(family \(family))"
        case .bind: "bind"
        case .setSocketOption(let level, let option): "setsockopt(level \(level), option \(option))"
        case .send: "sendto"
        case .receive(let flags): "recv(flags 0x\(String(flags, radix: 16)))"
        case .close(let descriptor): "close(\(descriptor))"
        }
    }

    /// Whether the call releases something (close, munmap) rather than creating or using it.
    /// Fault injection that checks for leaks fails only the others: a failed release leaks by
    /// nature.
    package var releases: Bool {
        switch self {
        case .close, .munmap: true
        default: false
        }
    }
}

/// Stands in for the system calls of ``SystemCall`` in one task: given the call, it returns an
/// errno to fail it with (the call is then not made) or nil to let it through.
package struct SystemCallInterceptor: Sendable {
    package var handle: @Sendable (SystemCall) -> Errno?

    package init(_ handle: @escaping @Sendable (SystemCall) -> Errno?) {
        self.handle = handle
    }
}

/// The one place each system call other than bpf(2) is made (bpf(2) has ``BPFSyscall``).
///
/// Each function is the thin C call plus, where the kernel documents it, the bounded `EINTR`
/// retry; it returns the kernel's result or errno and leaves the error's wording to the caller.
/// A test can fail any call for its own task with ``withInterceptor(_:operation:)``.
package enum SystemCalls {
    /// How often a call interrupted by a signal is repeated before `EINTR` is reported.
    package static let maximumInterruptedRetries = 64

    /// The interceptor of the current task and its child tasks.
    @TaskLocal private static var interceptor: SystemCallInterceptor?

    /// How many interception scopes (of this type or of ``BPFSyscall``) are open in the process.
    /// While it is 0, which is always outside tests, a call pays one relaxed load for the seam
    /// instead of a task-local lookup. A scope increments it before binding, in program order
    /// before its body's calls, so a relaxed load in the same task sees it.
    static let interceptionScopes = Atomic<Int>(0)

    /// Runs `body` with `interceptor` deciding, for the current task (and the child tasks it
    /// starts and awaits within `body`), which calls fail.
    package static func withInterceptor<Result>(
        _ interceptor: SystemCallInterceptor, operation body: () throws -> Result
    ) rethrows -> Result {
        interceptionScopes.wrappingAdd(1, ordering: .relaxed)
        defer { interceptionScopes.wrappingSubtract(1, ordering: .relaxed) }
        return try $interceptor.withValue(interceptor, operation: body)
    }

    /// The errno the task's interceptor fails `call` with; nil without one.
    @inline(__always)
    static func injectedFailure(_ call: @autoclosure () -> SystemCall) -> Errno? {
        guard interceptionScopes.load(ordering: .relaxed) != 0, let interceptor else { return nil }
        return interceptor.handle(call())
    }

    /// Runs `attempt` (which returns a negative value on failure, with errno set) until it
    /// succeeds or fails with something other than `EINTR` (at most
    /// ``maximumInterruptedRetries`` retries).
    @inline(__always)
    static func retryingInterrupts<Value: BinaryInteger>(
        _ call: @autoclosure () -> SystemCall, _ attempt: () -> Value
    ) -> Result<Value, Errno> {
        var retries = 0
        while true {
            let error: Errno
            if let injected = injectedFailure(call()) {
                error = injected
            } else {
                let value = attempt()
                if value >= 0 { return .success(value) }
                error = Errno(rawValue: cebpf_errno())
            }
            guard error == .interrupted, retries < maximumInterruptedRetries else { return .failure(error) }
            retries += 1
        }
    }

    // MARK: - perf events

    /// `perf_event_open(2)` with `attributes` (a `struct perf_event_attr`); the new raw
    /// descriptor, which the caller owns. `EINTR` is retried: the kernel waits for the target
    /// task's exec lock interruptibly (kernel/events/core.c, `exec_update_lock` in current
    /// kernels), so a signal can end the call early.
    package static func perfEventOpen(
        _ attributes: UnsafeMutableRawPointer?, pid: Int32, cpu: Int32, groupFD: Int32, flags: UInt
    ) -> Result<Int32, Errno> {
        retryingInterrupts(.perfEventOpen) { cebpf_perf_event_open(attributes, pid, cpu, groupFD, flags) }
    }

    /// `ioctl(2)` with an integer argument, for perf events. `EINTR` is retried.
    package static func ioctl(_ descriptor: Int32, request: UInt, value: UInt) -> Result<Int32, Errno> {
        retryingInterrupts(.ioctl(request: request)) { cebpf_ioctl_value(descriptor, request, value) }
    }

    // MARK: - epoll and eventfd

    /// `epoll_create1(2)`; the new raw descriptor.
    package static func epollCreate(flags: Int32) -> Result<Int32, Errno> {
        if let injected = injectedFailure(.epollCreate) { return .failure(injected) }
        let descriptor = epoll_create1(flags)
        return descriptor >= 0 ? .success(descriptor) : .failure(Errno(rawValue: cebpf_errno()))
    }

    /// `epoll_ctl(2)`.
    package static func epollControl(
        _ epoll: Int32, operation: Int32, descriptor: Int32, event: UnsafeMutablePointer<epoll_event>?
    ) -> Result<Void, Errno> {
        if let injected = injectedFailure(.epollControl) { return .failure(injected) }
        return epoll_ctl(epoll, operation, descriptor, event) == 0 ? .success(()) : .failure(Errno(rawValue: cebpf_errno()))
    }

    /// `epoll_wait(2)`; how many events were written. Not retried on `EINTR`: the caller
    /// recomputes its timeout first.
    package static func epollWait(
        _ epoll: Int32, events: UnsafeMutablePointer<epoll_event>?, capacity: Int32, timeout: Int32
    ) -> Result<Int32, Errno> {
        if let injected = injectedFailure(.epollWait) { return .failure(injected) }
        let count = epoll_wait(epoll, events, capacity, timeout)
        return count >= 0 ? .success(count) : .failure(Errno(rawValue: cebpf_errno()))
    }

    /// `eventfd(2)`; the new raw descriptor.
    package static func eventfd(initialValue: UInt32, flags: Int32) -> Result<Int32, Errno> {
        if let injected = injectedFailure(.eventfd) { return .failure(injected) }
        let descriptor = CEBPF.eventfd(initialValue, flags)
        return descriptor >= 0 ? .success(descriptor) : .failure(Errno(rawValue: cebpf_errno()))
    }

    // MARK: - Memory mappings

    /// `mmap(2)` of `length` bytes of `descriptor` at `offset`, shared.
    package static func mapShared(
        length: Int, protection: Int32, descriptor: Int32, offset: Int
    ) -> Result<UnsafeMutableRawPointer, Errno> {
        if let injected = injectedFailure(.mmap(length: length)) { return .failure(injected) }
        guard let address = Glibc.mmap(nil, length, protection, MAP_SHARED, descriptor, off_t(offset)),
            address != MAP_FAILED
        else {
            return .failure(Errno(rawValue: cebpf_errno()))
        }
        return .success(address)
    }

    /// `mmap(2)` with every argument given, for mappings that are not a plain shared mapping of a
    /// descriptor (an arena's fixed address).
    package static func map(
        address: UnsafeMutableRawPointer?, length: Int, protection: Int32, flags: Int32, descriptor: Int32, offset: Int
    ) -> Result<UnsafeMutableRawPointer, Errno> {
        if let injected = injectedFailure(.mmap(length: length)) { return .failure(injected) }
        guard let mapped = Glibc.mmap(address, length, protection, flags, descriptor, off_t(offset)),
            mapped != MAP_FAILED
        else {
            return .failure(Errno(rawValue: cebpf_errno()))
        }
        return .success(mapped)
    }

    /// `munmap(2)`.
    @discardableResult
    package static func unmap(_ address: UnsafeMutableRawPointer, length: Int) -> Result<Void, Errno> {
        if let injected = injectedFailure(.munmap(length: length)) { return .failure(injected) }
        return Glibc.munmap(address, length) == 0 ? .success(()) : .failure(Errno(rawValue: cebpf_errno()))
    }

    // MARK: - Files

    /// Appends `line` and a newline to `file` in one write (tracefs parses each write as one
    /// command), retrying `EINTR`. A short write is `EIO`.
    package static func appendLine(_ line: String, toFile file: String) -> Result<Void, Errno> {
        let bytes = Array((line + "\n").utf8)
        var retries = 0
        while true {
            let error: Errno
            if let injected = injectedFailure(.tracefsWrite(file: file, line: line)) {
                error = injected
            } else {
                let descriptor = Glibc.open(file, O_WRONLY | O_APPEND | O_CLOEXEC)
                guard descriptor >= 0 else { return .failure(Errno(rawValue: cebpf_errno())) }
                let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                error = written < 0 ? Errno(rawValue: cebpf_errno()) : Errno.ioError
                _ = Glibc.close(descriptor)
                if written == bytes.count { return .success(()) }
            }
            guard error == .interrupted, retries < maximumInterruptedRetries else { return .failure(error) }
            retries += 1
        }
    }

    /// `close(2)` of a raw descriptor; negative numbers are ignored. The interceptor sees it but
    /// cannot stop it. `EINTR` is not retried: Linux has released the descriptor by then.
    @discardableResult
    package static func close(_ descriptor: Int32) -> Result<Void, Errno> {
        guard descriptor >= 0 else { return .success(()) }
        _ = injectedFailure(.close(descriptor: descriptor))
        return Glibc.close(descriptor) == 0 ? .success(()) : .failure(Errno(rawValue: cebpf_errno()))
    }
}
