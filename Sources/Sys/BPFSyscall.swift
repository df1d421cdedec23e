import CEBPF
import Synchronization

/// The one place that calls bpf(2).
///
/// Three layers, as swift-system wraps its calls:
/// 1. the public throwing functions on ``Sys`` (one per command),
/// 2. ``call(_:_:)``, which retries what must be retried and returns the kernel's result or errno,
/// 3. ``systemCall(_:_:)``, the C call itself, which a test can replace for its own task with
///    ``withInterceptor(_:operation:)``.
///
/// The first attempt of a call (layers 2 and 3 up to the C call) is inlinable, so that a hot
/// path such as ``Sys/mapElementCall(_:mapFD:key:value:flags:)`` is one function in its caller
/// and not a chain of calls; interception and retries stay out of line.
@usableFromInline
enum BPFSyscall {
    /// How often a call interrupted by a signal (`EINTR`) is repeated before the error is reported.
    /// Bounded so that a signal storm or a broken interceptor cannot hang the caller.
    static let maximumInterruptedRetries = 64

    /// How often `BPF_PROG_LOAD` is repeated after `EAGAIN`, which the kernel returns when the
    /// verifier was interrupted and may succeed when run again.
    static let maximumProgramLoadRetries = 5

    /// Replaces the C call for the current task and its child tasks, so tests that run in
    /// parallel do not see each other's fakes. Bound only through ``withInterceptor(_:operation:)``,
    /// which keeps the count of open scopes
    /// (``SystemCalls/interceptionScopes``, shared with the other system calls' seam) right.
    @TaskLocal private static var interceptor: BPFSyscallInterceptor?

    /// Runs `body` with `interceptor` standing in for bpf(2) in the current task (and the child
    /// tasks it starts and awaits within `body`).
    static func withInterceptor<Result>(
        _ interceptor: BPFSyscallInterceptor, operation body: () throws -> Result
    ) rethrows -> Result {
        SystemCalls.interceptionScopes.wrappingAdd(1, ordering: .relaxed)
        defer { SystemCalls.interceptionScopes.wrappingSubtract(1, ordering: .relaxed) }
        return try $interceptor.withValue(interceptor, operation: body)
    }

    /// Whether an interceptor is bound anywhere in the process: probes whose answer is memoised
    /// for the process must not run then, or a test's fake would be remembered as the kernel's.
    static var isIntercepting: Bool { SystemCalls.interceptionScopes.load(ordering: .relaxed) != 0 }

    // MARK: - Layer 3: the C call

    /// Calls bpf(2), or the task's interceptor if one is bound. A ``SystemCallInterceptor`` bound
    /// with ``SystemCalls/withInterceptor(_:operation:)`` is asked first and may fail the call.
    @inlinable
    @inline(__always)
    static func systemCall(_ command: BPFCommand, _ attributes: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> {
        if SystemCalls.interceptionScopes.load(ordering: .relaxed) != 0 {
            return interceptedCall(command, attributes)
        }
        return kernelCall(command, attributes)
    }

    /// ``systemCall(_:_:)`` while some task has an interceptor bound: out of line, so that the
    /// inlined check is all that calls outside tests pay.
    @usableFromInline
    @inline(never)
    static func interceptedCall(
        _ command: BPFCommand, _ attributes: UnsafeMutableRawBufferPointer
    ) -> Result<Int, Errno> {
        if let injected = SystemCalls.injectedFailure(.bpf(command)) {
            return .failure(injected)
        }
        if let interceptor {
            return interceptor.handle(command, attributes)
        }
        return kernelCall(command, attributes)
    }

    /// bpf(2) itself, with no interception. Interceptors call it to let a call through.
    @inlinable
    @inline(__always)
    static func kernelCall(_ command: BPFCommand, _ attributes: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> {
        let result = cebpf_bpf(command.rawValue, attributes.baseAddress, UInt32(truncatingIfNeeded: attributes.count))
        if result < 0 {
            return .failure(Errno(rawValue: cebpf_errno()))
        }
        return .success(result)
    }

    // MARK: - Layer 2: retries

    /// Runs `command` with `attributes`, retrying `EINTR` (and `EAGAIN` for program loads) a
    /// bounded number of times. Every other failure, and the last retryable one, is returned.
    ///
    /// The first attempt is inlined into each command's function; the retries are not.
    @inlinable
    @inline(__always)
    static func call<Attributes: BitwiseCopyable>(
        _ command: BPFCommand, _ attributes: inout Attributes
    ) -> Result<Int, Errno> {
        // Without a stack protector: the attributes are a fixed-size struct and the kernel is
        // told their exact size, so nothing writes past them; the protector's canary check
        // would otherwise be part of every inlined call (map lookups and updates).
        let result = _withUnprotectedUnsafeMutableBytes(of: &attributes) { systemCall(command, $0) }
        guard case .failure(let errno) = result, isRetryable(errno, command) else {
            return result
        }
        return retry(command, &attributes, after: errno)
    }

    /// Whether a failure with `errno` is repeated: `EINTR` always, `EAGAIN` for program loads.
    @inlinable
    @inline(__always)
    static func isRetryable(_ errno: Errno, _ command: BPFCommand) -> Bool {
        errno == .interrupted || (errno == .resourceTemporarilyUnavailable && command == .progLoad)
    }

    /// The retries of ``call(_:_:)`` after a first attempt failed with the retryable `errno`.
    @usableFromInline
    @inline(never)
    static func retry<Attributes: BitwiseCopyable>(
        _ command: BPFCommand, _ attributes: inout Attributes, after firstErrno: Errno
    ) -> Result<Int, Errno> {
        var interruptedRetries = 0
        var againRetries = 0
        var errno = firstErrno
        while true {
            if errno == .interrupted, interruptedRetries < maximumInterruptedRetries {
                interruptedRetries += 1
            } else if errno == .resourceTemporarilyUnavailable, command == .progLoad,
                againRetries < maximumProgramLoadRetries
            {
                againRetries += 1
            } else {
                return .failure(errno)
            }
            let result = withUnsafeMutableBytes(of: &attributes) { systemCall(command, $0) }
            guard case .failure(let next) = result else {
                return result
            }
            errno = next
        }
    }

    /// ``call(_:_:)`` with the errno turned into a ``BPFSyscallError`` carrying a hint.
    static func perform<Attributes: BitwiseCopyable>(
        _ command: BPFCommand, _ attributes: inout Attributes, logRequested: Bool = false
    ) throws(BPFSyscallError) -> Int {
        switch call(command, &attributes) {
        case .success(let value):
            return value
        case .failure(let errno):
            // The program or map type is the first word of BPF_PROG_LOAD's and BPF_MAP_CREATE's attributes.
            var objectType: UInt32?
            if command == .progLoad || command == .mapCreate, MemoryLayout<Attributes>.size >= 4 {
                objectType = withUnsafeBytes(of: attributes) { $0.loadUnaligned(as: UInt32.self) }
            }
            throw BPFSyscallError(
                command: command, errno: errno,
                hint: .forFailure(of: command, errno: errno, logRequested: logRequested, objectType: objectType))
        }
    }

    /// ``perform(_:_:logRequested:)`` for commands whose result is a new descriptor, which it takes
    /// ownership of (and moves above 0).
    static func performCreatingDescriptor<Attributes: BitwiseCopyable>(
        _ command: BPFCommand, _ attributes: inout Attributes, logRequested: Bool = false
    ) throws(BPFSyscallError) -> FileDescriptor {
        let value = try perform(command, &attributes, logRequested: logRequested)
        guard let raw = Int32(exactly: value) else {
            throw BPFSyscallError(command: command, errno: .outOfRange)
        }
        do {
            return try FileDescriptor(adopting: raw)
        } catch {
            throw BPFSyscallError(command: command, errno: error)
        }
    }
}

/// A replacement for the bpf(2) C call, bound per task through
/// ``BPFSyscall/withInterceptor(_:operation:)``.
///
/// The handler sees the command and the attribute bytes (it may read and write them as the kernel
/// would) and returns the call's result or errno. ``BPFSyscall/kernelCall(_:_:)`` lets a call
/// through to the kernel.
struct BPFSyscallInterceptor: Sendable {
    var handle: @Sendable (BPFCommand, UnsafeMutableRawBufferPointer) -> Result<Int, Errno>

    init(_ handle: @escaping @Sendable (BPFCommand, UnsafeMutableRawBufferPointer) -> Result<Int, Errno>) {
        self.handle = handle
    }
}

/// The bpf(2) commands, one function each, and the helpers built on them.
///
/// Attribute structs mirror the kernel's `union bpf_attr` member for the command. Pointer fields
/// are `UInt64` addresses (see ``address(of:)``); the memory they point to must stay valid for the
/// duration of the call, so fill them inside `withUnsafe…` scopes.
public enum Sys {
    /// The address of `pointer` as the kernel's attribute structs store it (nil gives 0).
    @inlinable
    public static func address(of pointer: UnsafeRawPointer?) -> UInt64 {
        UInt64(UInt(bitPattern: pointer))
    }
}
