/// A bpf(2) command that failed: which command, the kernel's errno, and what probably caused it.
///
/// `description` is one line, for instance
/// `BPF_MAP_CREATE: Invalid argument (EINVAL)`, or for `EPERM` the evidence about capabilities,
/// lockdown and memory accounting (``PermissionEvidence``).
/// A program the verifier rejected carries the verifier's ``log``; the description ends with the
/// log line that states the reason.
public struct BPFSyscallError: Error, CustomStringConvertible, Sendable {
    /// The command that failed.
    public var command: BPFCommand
    /// The error number the kernel returned.
    public var errno: Errno
    /// The likely cause, where the command and errno point to one.
    public var hint: Hint?
    /// The log the kernel wrote for the command (the verifier's for `BPF_PROG_LOAD`, the BTF
    /// checker's for `BPF_BTF_LOAD`), or nil when none was requested or written.
    public var log: String?

    public init(command: BPFCommand, errno: Errno, hint: Hint? = nil, log: String? = nil) {
        self.command = command
        self.errno = errno
        self.hint = hint
        self.log = log
    }

    /// The error of `command` failing with `errno`, with the hint the library names for the
    /// pair: what the throwing functions of ``Sys`` throw for a command that returned `errno`
    /// (for callers of the non-throwing ``Sys/mapElementCall(_:mapFD:key:value:flags:)``).
    public init(failedCommand command: BPFCommand, errno: Errno) {
        self.init(command: command, errno: errno, hint: .forFailure(of: command, errno: errno, logRequested: false))
    }

    /// A cause the library can name from the command and the errno.
    public enum Hint: Hashable, Sendable, CustomStringConvertible {
        /// `EPERM` other than pinning: the facts that bear on it (capabilities held and missing,
        /// lockdown mode, memory accounting), since the errno alone does not say which is the cause.
        case notPermitted(PermissionEvidence)
        /// `E2BIG` creating a map: the key size, value size or `max_entries` is above what the map
        /// type allows.
        case mapTooLarge
        /// `E2BIG` or `ENOSPC` adding to a map: it already holds `max_entries` elements.
        case mapFull
        /// `EINVAL` or `EACCES` loading a program: the verifier (or the loader's own checks)
        /// refused it; the log says why.
        case programRejected
        /// `ENOSPC` with a log requested: the log buffer is too small for what the kernel wrote.
        case logBufferTooSmall
        /// `EPERM` pinning: the path is not on a BPF file system (bpffs).
        case pinPathNotOnBPFFS
        /// The instructions passed for loading are not a whole number of 8-byte instructions;
        /// nothing reached the kernel.
        case malformedInstructions(byteCount: Int)

        public var description: String {
            switch self {
            case .notPermitted(let evidence):
                return evidence.description
            case .mapTooLarge:
                return "key size, value size or max_entries exceeds what this map type allows"
            case .mapFull:
                return "the map is full (max_entries reached)"
            case .programRejected:
                return "the verifier rejected the program; see its log"
            case .logBufferTooSmall:
                return "the log buffer is too small for the kernel's log"
            case .malformedInstructions(let byteCount):
                return "\(byteCount) bytes of instructions is not a multiple of the 8-byte instruction size"
            case .pinPathNotOnBPFFS:
                return "the pin path must be on a mounted BPF file system (mount -t bpf bpf /sys/fs/bpf)"
            }
        }
    }

    public var description: String {
        var text = "\(command.name): \(errno)"
        if let hint {
            text += ": \(hint)"
        }
        if let reason = log.flatMap(BPFSyscallError.reasonLine(ofLog:)) {
            text += ": \(reason)"
        }
        return text
    }

    /// The line of a verifier log that states why it gave up: the last line that is not one of
    /// the statistics lines the kernel appends after the verdict.
    static func reasonLine(ofLog log: String) -> String? {
        let statisticsPrefixes = ["processed ", "verification time", "stack depth", "mark_read"]
        for line in log.split(whereSeparator: \.isNewline).reversed() {
            let trimmed = line.trimmingWhitespace()
            if trimmed.isEmpty { continue }
            if statisticsPrefixes.contains(where: { trimmed.hasPrefix($0) }) { continue }
            return String(trimmed)
        }
        return nil
    }
}

extension Substring {
    func trimmingWhitespace() -> Substring {
        var result = self
        while let first = result.first, first.isWhitespace { result = result.dropFirst() }
        while let last = result.last, last.isWhitespace { result = result.dropLast() }
        return result
    }
}

extension BPFSyscallError.Hint {
    /// The hint for a failure of `command` with `errno`, nil when the pair names no known cause.
    ///
    /// Pure apart from gathering ``PermissionEvidence`` for `EPERM` (files in /proc and
    /// /sys, the memlock limit, and the memory accounting probe, which makes its own raw call).
    /// `objectType` is the program or map type of a `BPF_PROG_LOAD` or `BPF_MAP_CREATE`.
    static func forFailure(of command: BPFCommand, errno: Errno, logRequested: Bool, objectType: UInt32? = nil) -> Self? {
        switch errno {
        case .notPermitted:
            if command == .objPin {
                return .pinPathNotOnBPFFS
            }
            return .notPermitted(PermissionEvidence.current(command: command, objectType: objectType))
        case .argumentListTooLong:
            switch command {
            case .mapCreate: return .mapTooLarge
            case .mapUpdateElem, .mapUpdateBatch: return .mapFull
            default: return nil
            }
        case .noSpace:
            if logRequested, command == .progLoad || command == .btfLoad {
                return .logBufferTooSmall
            }
            if command == .mapUpdateElem || command == .mapUpdateBatch {
                return .mapFull
            }
            return nil
        case .invalidArgument, .permissionDenied:
            return command == .progLoad ? .programRejected : nil
        default:
            return nil
        }
    }
}
