import EBPFSys
import Glibc
import Synchronization

/// The one descriptor of a ``Map`` or ``Program``, shared by every thread that uses the object.
///
/// Operations borrow the raw number for the length of one system call. ``close()`` may run while
/// other threads are inside such a call: the number is then released by the last of them, so a
/// call never runs on a number the kernel has already handed to someone else. Borrowing is two
/// atomic operations and no lock, so operations on one map from many threads do not serialise.
final class SharedDescriptor: Sendable {
    /// The number while open. Only read inside ``borrow(orThrow:_:)`` or by callers that accept
    /// that it may be closed under them (``Program/fileDescriptorValue``).
    let rawValue: Int32

    /// Bit 63: close requested. The bits below: operations in flight.
    private let state = Atomic<UInt64>(0)
    private static let closeRequested: UInt64 = 1 << 63

    /// The owner of the number; closing it is the only thing done under the lock.
    private let owner: Mutex<FileDescriptor>

    init(_ descriptor: consuming FileDescriptor) {
        rawValue = descriptor.rawValue
        owner = Mutex(descriptor)
    }

    var isClosed: Bool {
        state.load(ordering: .acquiring) & Self.closeRequested != 0
    }

    /// Runs `body` with the raw number, which stays open until `body` returns.
    /// - Throws: `closedError()` when the descriptor was closed; whatever `body` throws.
    @inline(__always)
    func borrow<Result: ~Copyable, Failure: Error>(
        orThrow closedError: () -> Failure, _ body: (Int32) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        guard acquire() else {
            throw closedError()
        }
        defer { release() }
        return try body(rawValue)
    }

    /// Runs `body` with the raw number, which stays open until `body` returns; nil when closed.
    func borrowIfOpen<Result, Failure: Error>(_ body: (Int32) throws(Failure) -> Result) throws(Failure) -> Result? {
        guard acquire() else {
            return nil
        }
        defer { release() }
        return try body(rawValue)
    }

    /// The raw number with one more operation counted in flight, nil when closed: the number
    /// stays open until the matching ``endUse()``. ``borrow(orThrow:_:)`` without a closure, for
    /// paths that report failures as values.
    @inline(__always)
    func beginUse() -> Int32? {
        acquire() ? rawValue : nil
    }

    /// Ends an operation begun with ``beginUse()``.
    @inline(__always)
    func endUse() {
        release()
    }

    /// Counts one more operation in flight, unless the descriptor is closed.
    ///
    /// One atomic add, not a compare-and-swap loop: the count goes up unconditionally and an
    /// operation that finds the close bit set takes its count back through ``release()``. That is
    /// safe because
    /// - an operation that saw no close bit was counted before `close()` set it, so `close()` sees
    ///   a count above 0 and leaves the closing to the last ``release()``;
    /// - one that saw the bit set never uses the number, and its ``release()`` may find itself the
    ///   last operation: then it closes, which is either the close the operations in flight left
    ///   to it or, when `close()` already closed (no operation was in flight then), a second
    ///   close of the owner, which does nothing (``FileDescriptor/close()`` forgets its number and
    ///   runs under the owner's lock).
    ///
    /// Two atomic read-modify-writes per operation (this and ``release()``) are the least a
    /// counted borrow needs: a plain load cannot tell a concurrent `close()` that a call is
    /// about to use the number, and `close()` must not release it while one is.
    @inline(__always)
    private func acquire() -> Bool {
        let before = state.wrappingAdd(1, ordering: .acquiring).oldValue
        guard before & Self.closeRequested == 0 else {
            release()
            return false
        }
        return true
    }

    @inline(__always)
    private func release() {
        let before = state.wrappingSubtract(1, ordering: .acquiringAndReleasing).oldValue
        if before == Self.closeRequested | 1 {
            closeAfterLastOperation()
        }
    }

    /// The last operation in flight after close() was called closes; nobody can report an error.
    @inline(never)
    private func closeAfterLastOperation() {
        _ = try? closeOwner()
    }

    /// Closes the descriptor now, or when the last operation in flight ends. Calling it again does
    /// nothing.
    func close() throws(Errno) {
        let before = state.bitwiseOr(Self.closeRequested, ordering: .acquiringAndReleasing).oldValue
        guard before & Self.closeRequested == 0 else { return }
        if before == 0 {
            try closeOwner()
        }
    }

    private func closeOwner() throws(Errno) {
        try owner.withLock { (descriptor: inout FileDescriptor) throws(Errno) -> Void in
            try descriptor.close()
        }
    }

    /// A new descriptor for the same object, close-on-exec and above 0.
    func duplicate<Failure: Error>(
        orThrow closedError: () -> Failure, wrapping wrap: (Errno) -> Failure
    ) throws(Failure) -> FileDescriptor {
        let duplicated = try borrow(orThrow: closedError) { (raw: Int32) throws(Failure) -> Result<Int32, Errno> in
            SystemCalls.duplicate(raw, atLeast: 1)
        }
        let copy: Int32
        switch duplicated {
        case .success(let number): copy = number
        case .failure(let error): throw wrap(error)
        }
        do throws(Errno) {
            return try FileDescriptor(adopting: copy)
        } catch {
            throw wrap(error)
        }
    }
}

/// Where an object is pinned, remembered so that `unpin()` can remove it.
final class PinState: Sendable {
    private let path = Mutex<String?>(nil)

    init(_ initial: String? = nil) {
        path.withLock { $0 = initial }
    }

    var current: String? {
        path.withLock { $0 }
    }

    func set(_ newPath: String?) {
        path.withLock { $0 = newPath }
    }

    /// Pins the object behind `descriptor` at `path` and remembers the path.
    func pin<Failure: Error>(
        _ descriptor: SharedDescriptor, at path: String, ifClosed closedError: () -> Failure,
        wrapping wrap: (BPFSyscallError) -> Failure
    ) throws(Failure) {
        try descriptor.borrow(orThrow: closedError) { (raw: Int32) throws(Failure) in
            do throws(BPFSyscallError) {
                try Sys.pin(descriptorValue: raw, at: path)
            } catch {
                throw wrap(error)
            }
        }
        set(path)
    }

    /// Removes the pin file, if any. A file that is already gone is not an error.
    func remove() -> (path: String, errno: Errno)? {
        path.withLock { (pinned: inout String?) -> (path: String, errno: Errno)? in
            guard let current = pinned else { return nil }
            do throws(Errno) {
                try Sys.unpin(at: current)
            } catch {
                return (current, error)
            }
            pinned = nil
            return nil
        }
    }
}

/// Names as the kernel keeps them: at most 15 bytes of `[A-Za-z0-9_.]`.
enum KernelObjectName {
    /// `name` cut to the kernel's length and validated. The full name stays with the Swift object.
    static func make(_ name: String) throws(BPFObjectNameError) -> BPFObjectName {
        let utf8 = Array(name.utf8.prefix(BPFObjectName.maximumLength))
        return try BPFObjectName(String(decoding: utf8, as: UTF8.self))
    }
}

// MARK: - Typed throws through the standard library's buffer accessors

// `Array.withUnsafeBytes` and friends rethrow untyped errors; these keep the caller's error type.
extension Array where Element: BitwiseCopyable {
    @inline(__always)
    func withBytes<Result, Failure: Error>(
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try withUnsafeBytes { bytes in Swift.Result { () throws(Failure) in try body(bytes) } }.get()
    }

    @inline(__always)
    mutating func withMutableBytes<Result, Failure: Error>(
        _ body: (UnsafeMutableRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try withUnsafeMutableBytes { bytes in Swift.Result { () throws(Failure) in try body(bytes) } }.get()
    }
}
