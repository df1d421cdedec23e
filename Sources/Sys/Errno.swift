import Glibc

/// An error number the kernel returned from a system call.
///
/// A struct rather than an enum: the kernel returns values this list does not name, and they must
/// still be representable. `description` is the C library's `strerror` text plus the C name.
public struct Errno: RawRepresentable, Error, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32

    public init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// `EPERM`: the operation needs a privilege the process lacks.
    public static let notPermitted = Errno(rawValue: 1)
    /// `ENOENT`: no such file, element or object.
    public static let noSuchFileOrDirectory = Errno(rawValue: 2)
    /// `ESRCH`: no such process.
    public static let noSuchProcess = Errno(rawValue: 3)
    /// `EINTR`: a signal interrupted the call.
    public static let interrupted = Errno(rawValue: 4)
    /// `EIO`: input/output error.
    public static let ioError = Errno(rawValue: 5)
    /// `ENXIO`: no such device or address.
    public static let noSuchDeviceOrAddress = Errno(rawValue: 6)
    /// `E2BIG`: an argument or object is too large.
    public static let argumentListTooLong = Errno(rawValue: 7)
    /// `EBADF`: not an open file descriptor, or one of the wrong kind.
    public static let badFileDescriptor = Errno(rawValue: 9)
    /// `EAGAIN`: the resource is temporarily unavailable; try again.
    public static let resourceTemporarilyUnavailable = Errno(rawValue: 11)
    /// `ENOMEM`: the kernel could not allocate memory.
    public static let noMemory = Errno(rawValue: 12)
    /// `EACCES`: permission denied (for BPF: often the verifier refusing a program).
    public static let permissionDenied = Errno(rawValue: 13)
    /// `EFAULT`: a pointer passed to the kernel is invalid.
    public static let badAddress = Errno(rawValue: 14)
    /// `EBUSY`: the resource is busy.
    public static let resourceBusy = Errno(rawValue: 16)
    /// `EEXIST`: the file or element already exists.
    public static let fileExists = Errno(rawValue: 17)
    /// `EXDEV`: cross-device link.
    public static let crossDeviceLink = Errno(rawValue: 18)
    /// `ENODEV`: no such device.
    public static let noSuchDevice = Errno(rawValue: 19)
    /// `ENOTDIR`: not a directory.
    public static let notDirectory = Errno(rawValue: 20)
    /// `EISDIR`: is a directory.
    public static let isDirectory = Errno(rawValue: 21)
    /// `EINVAL`: an argument is invalid.
    public static let invalidArgument = Errno(rawValue: 22)
    /// `ENFILE`: the system has too many open files.
    public static let tooManyOpenFilesInSystem = Errno(rawValue: 23)
    /// `EMFILE`: the process has too many open files.
    public static let tooManyOpenFiles = Errno(rawValue: 24)
    /// `ENOTTY`: inappropriate ioctl for the device.
    public static let inappropriateIOCTLForDevice = Errno(rawValue: 25)
    /// `EFBIG`: file too large.
    public static let fileTooLarge = Errno(rawValue: 27)
    /// `ENOSPC`: no space left (for BPF: a full map, or a log buffer that is too small).
    public static let noSpace = Errno(rawValue: 28)
    /// `EROFS`: read-only file system.
    public static let readOnlyFileSystem = Errno(rawValue: 30)
    /// `ERANGE`: a result is out of range.
    public static let outOfRange = Errno(rawValue: 34)
    /// `ENAMETOOLONG`: a file name is too long.
    public static let fileNameTooLong = Errno(rawValue: 36)
    /// `ENOSYS`: the system call does not exist in this kernel.
    public static let noFunction = Errno(rawValue: 38)
    /// `ENOTEMPTY`: the directory is not empty.
    public static let directoryNotEmpty = Errno(rawValue: 39)
    /// `ELOOP`: too many levels of symbolic links.
    public static let tooManySymbolicLinkLevels = Errno(rawValue: 40)
    /// `ENODATA`: no data available.
    public static let noData = Errno(rawValue: 61)
    /// `EOVERFLOW`: a value is too large for its data type.
    public static let overflow = Errno(rawValue: 75)
    /// `EMSGSIZE`: a message is too long (or, for a datagram send, went out short).
    public static let messageTooLong = Errno(rawValue: 90)
    /// `ENOPROTOOPT`: the socket option is unknown to the protocol.
    public static let protocolNotAvailable = Errno(rawValue: 92)
    /// `EOPNOTSUPP`: the operation is not supported.
    public static let notSupported = Errno(rawValue: 95)
    /// `ETIMEDOUT`: the operation timed out.
    public static let timedOut = Errno(rawValue: 110)
    /// `EALREADY`: the operation is already in progress.
    public static let alreadyInProgress = Errno(rawValue: 114)
    /// `ECANCELED`: the operation was cancelled.
    public static let canceled = Errno(rawValue: 125)
    /// `ENOTSUPP`: the kernel-internal "not supported" (524), which bpf(2) lets escape to user
    /// space for some operations. The C library has no text for it.
    public static let kernelNotSupported = Errno(rawValue: 524)

    /// The C name of the error (`"EPERM"`), or nil for numbers this type does not name.
    public var name: String? {
        Errno.names[rawValue]
    }

    public var description: String {
        let text: String
        if self == .kernelNotSupported {
            text = "Operation not supported by the kernel"
        } else {
            text = Errno.strerrorText(rawValue)
        }
        if let name {
            return "\(text) (\(name))"
        }
        return "\(text) (errno \(rawValue))"
    }

    private static func strerrorText(_ value: Int32) -> String {
        // Swift imports the XSI strerror_r, which fills the buffer and returns 0 on success.
        var buffer = [CChar](repeating: 0, count: 256)
        let text: String? = buffer.withUnsafeMutableBufferPointer { storage in
            guard let base = storage.baseAddress, strerror_r(value, base, storage.count - 1) == 0 else {
                return nil
            }
            return String(cString: base)
        }
        return text ?? "Unknown error \(value)"
    }

    private static let names: [Int32: String] = [
        1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 6: "ENXIO", 7: "E2BIG", 9: "EBADF",
        11: "EAGAIN", 12: "ENOMEM", 13: "EACCES", 14: "EFAULT", 16: "EBUSY", 17: "EEXIST", 18: "EXDEV",
        19: "ENODEV", 20: "ENOTDIR", 21: "EISDIR", 22: "EINVAL", 23: "ENFILE", 24: "EMFILE", 25: "ENOTTY",
        27: "EFBIG", 28: "ENOSPC", 30: "EROFS", 34: "ERANGE", 36: "ENAMETOOLONG", 38: "ENOSYS",
        39: "ENOTEMPTY", 40: "ELOOP", 61: "ENODATA", 75: "EOVERFLOW", 90: "EMSGSIZE", 92: "ENOPROTOOPT", 95: "EOPNOTSUPP", 110: "ETIMEDOUT",
        114: "EALREADY", 125: "ECANCELED", 524: "ENOTSUPP",
    ]
}

extension Errno {
    /// The calling thread's current `errno`, read right after a failed call.
    internal static var current: Errno {
        Errno(rawValue: Glibc.errno)
    }
}
