import Glibc

/// What the process and the kernel looked like when a bpf(2) command failed with `EPERM`, so the
/// message states evidence instead of guessing one cause: the relevant capabilities the process
/// has and lacks, the kernel's lockdown mode, how the kernel accounts BPF memory, and what kind
/// of object was refused.
///
/// `EPERM` has several causes the errno cannot tell apart: a missing capability (CAP_BPF,
/// CAP_PERFMON for tracing programs, CAP_NET_ADMIN for networking ones, CAP_SYS_ADMIN), kernel
/// lockdown, an LSM policy, or `RLIMIT_MEMLOCK` on kernels that charge BPF memory to it (before
/// Linux 5.11, commit 3ac1f01b43b6 "bpf: Eliminate rlimit-based memory accounting for bpf
/// progs"). On Linux 5.11 and later memory is charged to the memory cgroup, and the memlock
/// limit is irrelevant.
public struct PermissionEvidence: Hashable, Sendable, CustomStringConvertible {
    /// What was refused: "load a program of type 26", "create a map of type 33", "load BTF", ...
    public var object: String
    /// The relevant capabilities the process has in its effective set, by name.
    public var heldCapabilities: [String]
    /// The relevant capabilities the process lacks, by name.
    public var missingCapabilities: [String]
    /// The kernel lockdown mode (`none`, `integrity`, `confidentiality`), nil when unreadable.
    public var lockdown: String?
    /// How the kernel accounts BPF memory, nil when it could not be probed.
    public var memoryAccounting: BPFMemoryAccounting?
    /// The soft `RLIMIT_MEMLOCK` in bytes, nil when unlimited or unreadable.
    public var memlockLimit: UInt64?

    /// The capabilities that bear on bpf(2), with their numbers (`linux/capability.h`).
    public static let relevantCapabilities: [(name: String, bit: Int)] = [
        ("CAP_BPF", 39), ("CAP_PERFMON", 38), ("CAP_NET_ADMIN", 12), ("CAP_SYS_ADMIN", 21), ("CAP_SYS_RESOURCE", 24),
    ]

    /// The evidence from given facts: `effectiveCapabilities` is the `CapEff` mask of
    /// `/proc/self/status`, nil when unreadable (then no capability is listed either way).
    public init(
        object: String, effectiveCapabilities: UInt64?, lockdown: String?,
        memoryAccounting: BPFMemoryAccounting?, memlockLimit: UInt64?
    ) {
        self.object = object
        var held: [String] = []
        var missing: [String] = []
        if let mask = effectiveCapabilities {
            for (name, bit) in Self.relevantCapabilities {
                if mask & (1 << UInt64(bit)) != 0 { held.append(name) } else { missing.append(name) }
            }
        }
        heldCapabilities = held
        missingCapabilities = missing
        self.lockdown = lockdown
        self.memoryAccounting = memoryAccounting
        self.memlockLimit = memlockLimit
    }

    public var description: String {
        var parts = ["not permitted to \(object)"]
        if heldCapabilities.isEmpty && missingCapabilities.isEmpty {
            parts.append("capabilities unknown (/proc/self/status unreadable)")
        } else {
            parts.append("capabilities held: \(heldCapabilities.isEmpty ? "none" : heldCapabilities.joined(separator: ", "))")
            parts.append("missing: \(missingCapabilities.isEmpty ? "none" : missingCapabilities.joined(separator: ", "))")
        }
        parts.append("kernel lockdown: \(lockdown ?? "unknown")")
        switch memoryAccounting {
        case .memoryCgroup?:
            parts.append("BPF memory is charged to the memory cgroup, so the memlock limit does not apply")
        case .memlockLimit?:
            let shown = memlockLimit.map { "\($0) bytes" } ?? "unlimited"
            parts.append(
                "BPF memory is charged to RLIMIT_MEMLOCK (soft limit \(shown)); raise it with Sys.raiseMemlockLimitIfNeeded()")
        case nil:
            parts.append("how the kernel accounts BPF memory could not be probed")
        }
        return parts.joined(separator: "; ")
    }

    /// The evidence of the running process and kernel for a refusal of `command`;
    /// `objectType` is the first word of the attributes (the program or map type) for
    /// `BPF_PROG_LOAD` and `BPF_MAP_CREATE`.
    ///
    /// Probes the memory accounting when no probe ran yet (a one-element array map created under
    /// a memlock limit of 0, with its own raw call, so it cannot recurse into this), unless a
    /// test's interceptor is bound, whose fake answers must not be memoised.
    static func current(command: BPFCommand, objectType: UInt32?) -> PermissionEvidence {
        PermissionEvidence(
            object: objectName(command: command, objectType: objectType),
            effectiveCapabilities: effectiveCapabilities(status: readSmallFile("/proc/self/status")),
            lockdown: lockdownMode(readSmallFile("/sys/kernel/security/lockdown")),
            memoryAccounting: MemlockProbe.cachedAccounting
                ?? (BPFSyscall.isIntercepting ? nil : try? MemlockProbe.memoisedAccounting()),
            memlockLimit: MemlockProbe.currentSoftLimit())
    }

    static func objectName(command: BPFCommand, objectType: UInt32?) -> String {
        switch command {
        case .progLoad: objectType.map { "load a program of type \($0)" } ?? "load a program"
        case .mapCreate: objectType.map { "create a map of type \($0)" } ?? "create a map"
        case .btfLoad: "load BTF"
        case .linkCreate: "create a link"
        default: "run \(command.name)"
        }
    }

    /// The `CapEff` mask of a `/proc/<pid>/status` text.
    static func effectiveCapabilities(status: String?) -> UInt64? {
        guard let status else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("CapEff:") {
            return UInt64(line.dropFirst("CapEff:".count).trimmingWhitespace(), radix: 16)
        }
        return nil
    }

    /// The selected mode of `/sys/kernel/security/lockdown` (`none [integrity] confidentiality`).
    static func lockdownMode(_ text: String?) -> String? {
        guard let text, let open = text.firstIndex(of: "["), let close = text[open...].firstIndex(of: "]") else { return nil }
        return String(text[text.index(after: open)..<close])
    }

    /// The first 64 KiB of a file, nil when it cannot be read.
    static func readSmallFile(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        var length = 0
        while length < buffer.count {
            let count = buffer.withUnsafeMutableBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return read(descriptor, base + length, raw.count - length)
            }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            length += count
        }
        return String(decoding: buffer[..<length], as: UTF8.self)
    }
}
