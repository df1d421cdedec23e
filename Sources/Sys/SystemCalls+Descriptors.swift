import CEBPF
import Glibc

extension SystemCalls {
    // MARK: - Files kept open

    /// `open(2)` of `path` with `flags` (`O_CLOEXEC` is added); the new raw descriptor, which the
    /// caller owns. For files whose descriptor an object keeps or hands to the kernel (a cgroup
    /// directory, a network namespace, a bpffs directory), not for files read and closed at once.
    /// `EINTR` is retried: an open that blocks (a FIFO, some network file systems) waits
    /// interruptibly.
    package static func open(_ path: String, flags: Int32) -> Result<Int32, Errno> {
        retryingInterrupts(.open(path: path)) { Glibc.open(path, flags | O_CLOEXEC) }
    }

    /// `fcntl(F_DUPFD_CLOEXEC)`: a close-on-exec duplicate of `descriptor` numbered `lowest` or
    /// above, which the caller owns.
    package static func duplicate(_ descriptor: Int32, atLeast lowest: Int32) -> Result<Int32, Errno> {
        if let injected = injectedFailure(.duplicate) { return .failure(injected) }
        let copy = fcntl(descriptor, F_DUPFD_CLOEXEC, lowest)
        return copy >= 0 ? .success(copy) : .failure(Errno(rawValue: cebpf_errno()))
    }

    // MARK: - Sockets

    /// `socket(2)`; the new raw descriptor (opened close-on-exec), which the caller owns.
    package static func socket(family: Int32, type: Int32, protocol: Int32) -> Result<Int32, Errno> {
        if let injected = injectedFailure(.socket(family: family)) { return .failure(injected) }
        let descriptor = Glibc.socket(family, type | Int32(SOCK_CLOEXEC.rawValue), `protocol`)
        return descriptor >= 0 ? .success(descriptor) : .failure(Errno(rawValue: cebpf_errno()))
    }

    /// `bind(2)` to the `length` bytes of address at `address`.
    package static func bind(_ socket: Int32, address: UnsafeRawPointer, length: Int) -> Result<Void, Errno> {
        if let injected = injectedFailure(.bind) { return .failure(injected) }
        let bound = Glibc.bind(socket, address.assumingMemoryBound(to: sockaddr.self), socklen_t(truncatingIfNeeded: length))
        return bound == 0 ? .success(()) : .failure(Errno(rawValue: cebpf_errno()))
    }

    /// `setsockopt(2)` of `option` at `level` to `value` (a C value such as an `int` or a
    /// `struct timeval`).
    package static func setSocketOption<Value: BitwiseCopyable>(
        _ socket: Int32, level: Int32, option: Int32, value: Value
    ) -> Result<Void, Errno> {
        if let injected = injectedFailure(.setSocketOption(level: level, option: option)) { return .failure(injected) }
        var value = value
        let set = Glibc.setsockopt(socket, level, option, &value, socklen_t(MemoryLayout<Value>.size))
        return set == 0 ? .success(()) : .failure(Errno(rawValue: cebpf_errno()))
    }

    /// `sendto(2)` of `bytes` to the `addressLength` bytes of address at `address`; how many
    /// bytes went out. `EINTR` is retried: a blocking send waits for buffer space interruptibly.
    package static func send(
        _ socket: Int32, bytes: UnsafeRawBufferPointer, to address: UnsafeRawPointer, addressLength: Int
    ) -> Result<Int, Errno> {
        retryingInterrupts(.send) {
            Glibc.sendto(
                socket, bytes.baseAddress, bytes.count, 0, address.assumingMemoryBound(to: sockaddr.self),
                socklen_t(truncatingIfNeeded: addressLength))
        }
    }

    /// `recv(2)` into `buffer` with `flags`; the length the call returned (with `MSG_TRUNC`, the
    /// datagram's full length). `EINTR` is retried: a blocking receive waits interruptibly.
    /// `EAGAIN` is the socket's receive timeout (`SO_RCVTIMEO`) running out, and is returned.
    package static func receive(_ socket: Int32, into buffer: UnsafeMutableRawBufferPointer, flags: Int32) -> Result<Int, Errno> {
        retryingInterrupts(.receive(flags: flags)) { Glibc.recv(socket, buffer.baseAddress, buffer.count, flags) }
    }
}
