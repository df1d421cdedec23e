import Glibc
import Synchronization

@testable import EBPFSys


/// The bytes of a plain value, in host order.
func bytes<T: BitwiseCopyable>(of value: T) -> [UInt8] {
    withUnsafeBytes(of: value) { Array($0) }
}

/// A value read back from its host-order bytes.
func value<T: BitwiseCopyable>(_ type: T.Type, from bytes: [UInt8]) -> T? {
    guard bytes.count == MemoryLayout<T>.size else { return nil }
    return bytes.withUnsafeBytes { $0.loadUnaligned(as: T.self) }
}

/// Counts the calls an interceptor sees, shared between the test and the interceptor's closure.
final class CallCounter: Sendable {
    private let storage = Atomic<Int>(0)

    /// Increments the count and returns the value before the increment.
    func next() -> Int {
        storage.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    var count: Int {
        storage.load(ordering: .relaxed)
    }
}

/// Runs `body` with `handler` standing in for bpf(2) in this task.
func withInterceptor<R>(
    _ handler: @escaping @Sendable (BPFCommand, UnsafeMutableRawBufferPointer) -> Result<Int, Errno>,
    _ body: () throws -> R
) rethrows -> R {
    try BPFSyscall.withInterceptor(BPFSyscallInterceptor(handler), operation: body)
}

/// `mov r0, imm; exit`, encoded by hand for the host's byte order (little endian: the register
/// byte holds dst in its low nibble).
func returnImmediateProgram(_ immediate: Int32) -> [UInt8] {
    let movImmediateToR0: [UInt8] = [0xb7, 0x00, 0x00, 0x00] + bytes(of: immediate)
    let exit: [UInt8] = [0x95, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]
    return movImmediateToR0 + exit
}

/// A pipe whose ends are owned by `FileDescriptor`s, for watching descriptors close: reading the
/// read end returns end-of-file once every write end is closed.
func makePipe() throws -> (read: Int32, write: Int32) {
    var ends: [Int32] = [0, 0]
    guard pipe(&ends) == 0 else {
        throw Errno.current
    }
    _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
    _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
    return (ends[0], ends[1])
}

/// Whether the read end of a pipe is at end-of-file (no writer left), without blocking.
func pipeIsAtEndOfFile(_ readEnd: Int32) -> Bool {
    var poller = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
    guard poll(&poller, 1, 0) == 1 else { return false }
    var byte: UInt8 = 0
    return read(readEnd, &byte, 1) == 0
}
