import Glibc

/// An open file descriptor with exactly one owner.
///
/// The descriptor is closed when its owner drops it or calls ``close()``. It is never fd 0: a
/// process whose stdin was closed gets fd 0 back from the kernel for its next object, and code
/// that treats 0 as "no descriptor" (the kernel's own attributes do, for instance `inner_map_fd`)
/// would then silently misbehave. Such a descriptor is moved above 0. Every descriptor this type
/// makes is close-on-exec, like those bpf(2) returns.
///
/// Whoever needs the descriptor beyond its owner's lifetime takes a ``duplicate()``; code that
/// hands the number to someone else for good calls ``relinquish()``.
///
/// ```swift
/// let map = try Sys.createMap(type: 2, keySize: 4, valueSize: 8, maxEntries: 1)
/// let second = try map.duplicate()
/// ```
public struct FileDescriptor: ~Copyable, Sendable {
    /// The descriptor, or -1 once closed or relinquished.
    private var storage: Int32

    /// Takes ownership of `rawValue`, moving it above 0 if it is 0.
    ///
    /// The descriptor is closed if this throws: the caller handed it over either way.
    /// - Throws: `EBADF` for a negative number; the `fcntl` error if a descriptor at 0 cannot be
    ///   moved.
    public init(adopting rawValue: Int32) throws(Errno) {
        guard rawValue >= 0 else {
            throw .badFileDescriptor
        }
        storage = try FileDescriptor.movedAbove(rawValue, lowestAllowed: 1)
    }

    /// The raw descriptor number, for a system call that takes it; -1 once closed.
    ///
    /// The number stays owned by this value: do not close it or keep it beyond this value's life.
    public var rawValue: Int32 {
        storage
    }

    /// Whether ``close()`` already ran.
    public var isClosed: Bool {
        storage < 0
    }

    /// Closes the descriptor now. Calling it again does nothing.
    ///
    /// `EINTR` is not reported: Linux has released the descriptor by then, and closing again
    /// could close a number another thread was just given.
    public mutating func close() throws(Errno) {
        let descriptor = storage
        storage = -1
        guard descriptor >= 0 else { return }
        if case .failure(let error) = SystemCalls.close(descriptor), error != .interrupted {
            throw error
        }
    }

    /// A second descriptor for the same open file, close-on-exec and above 0, with its own owner.
    public func duplicate() throws(Errno) -> FileDescriptor {
        guard storage >= 0 else {
            throw .badFileDescriptor
        }
        switch SystemCalls.duplicate(storage, atLeast: 1) {
        case .success(let copy): return FileDescriptor(alreadyAboveZero: copy)
        case .failure(let error): throw error
        }
    }

    /// Hands the raw descriptor out: the caller now owns it and must close it. -1 if this value
    /// was closed.
    public consuming func relinquish() -> Int32 {
        let descriptor = storage
        discard self
        return descriptor
    }

    deinit {
        SystemCalls.close(storage)
    }

    /// Wraps a descriptor known to be open, owned and greater than 0.
    internal init(alreadyAboveZero rawValue: Int32) {
        storage = rawValue
    }

    /// Returns `rawValue` if it is at least `lowestAllowed`; otherwise a close-on-exec duplicate at
    /// or above `lowestAllowed`, closing `rawValue`. On failure `rawValue` is closed as well.
    ///
    /// Tests call it with a `lowestAllowed` above an ordinary descriptor, which exercises the path
    /// a descriptor at 0 takes without touching the process's stdin.
    internal static func movedAbove(_ rawValue: Int32, lowestAllowed: Int32) throws(Errno) -> Int32 {
        if rawValue >= lowestAllowed {
            return rawValue
        }
        let moved = SystemCalls.duplicate(rawValue, atLeast: lowestAllowed)
        SystemCalls.close(rawValue)
        return try moved.get()
    }
}
