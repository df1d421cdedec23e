import Glibc
import Synchronization

/// How the running kernel accounts the memory of BPF maps and programs.
public enum BPFMemoryAccounting: Sendable, Hashable {
    /// Charged to the memory cgroup (Linux 5.11 and later): `RLIMIT_MEMLOCK` does not matter.
    case memoryCgroup
    /// Charged against `RLIMIT_MEMLOCK` (kernels before 5.11): the default limit of a few MiB is
    /// quickly exhausted and must be raised.
    case memlockLimit
}

/// `raiseMemlockLimitIfNeeded()` could not finish.
public enum MemlockLimitError: Error, CustomStringConvertible, Sendable {
    /// Creating the probe map failed with an error other than the one the probe looks for.
    case probeFailed(BPFSyscallError)
    /// Reading or changing `RLIMIT_MEMLOCK` failed (raising it needs CAP_SYS_RESOURCE).
    case setLimitFailed(Errno, currentLimit: UInt64?)

    public var description: String {
        switch self {
        case .probeFailed(let error):
            return "probing how the kernel accounts BPF memory: \(error)"
        case .setLimitFailed(let errno, let limit):
            let shown = limit.map { "\($0) bytes" } ?? "unknown"
            return "raising RLIMIT_MEMLOCK (current soft limit \(shown)): \(errno)"
        }
    }
}

extension Sys {
    /// How the running kernel accounts BPF memory, probed once per process.
    ///
    /// The probe lowers the soft `RLIMIT_MEMLOCK` to 0 for a moment, creates a one-element array
    /// map and restores the limit: success means memory cgroup accounting, `EPERM` means memlock
    /// accounting. While the probe runs other threads of the process see a memlock limit of 0,
    /// which matters only to `mlock` and perf ring buffers being mapped at that moment.
    public static func memoryAccounting() throws(MemlockLimitError) -> BPFMemoryAccounting {
        try MemlockProbe.memoisedAccounting()
    }

    /// Raises `RLIMIT_MEMLOCK` to unlimited if, and only if, the kernel charges BPF memory to it.
    ///
    /// Call it once before creating maps or loading programs. On Linux 5.11 and later it changes
    /// nothing. Returns the accounting the kernel uses.
    @discardableResult
    public static func raiseMemlockLimitIfNeeded() throws(MemlockLimitError) -> BPFMemoryAccounting {
        let accounting = try MemlockProbe.memoisedAccounting()
        if accounting == .memlockLimit {
            var unlimited = rlimit(rlim_cur: MemlockProbe.unlimited, rlim_max: MemlockProbe.unlimited)
            if setrlimit(MemlockProbe.resource, &unlimited) != 0 {
                throw .setLimitFailed(Errno.current, currentLimit: MemlockProbe.currentSoftLimit())
            }
        }
        return accounting
    }
}

enum MemlockProbe {
    static let resource = __rlimit_resource_t(__RLIMIT_MEMLOCK.rawValue)

    /// `RLIM_INFINITY`, whose C definition (a cast of -1) Swift cannot import.
    static let unlimited = rlim_t.max

    /// 0 while unknown, then 1 for memory cgroup or 2 for memlock accounting. An atomic rather than
    /// the mutex's value: error hints read it from inside the probe's own failing call, where
    /// taking the mutex again would deadlock.
    private static let cached = Atomic<UInt8>(0)

    /// Serialises probes, so the limit is lowered by one thread at a time.
    private static let probeLock = Mutex<Void>(())

    /// The memoised result, or nil before the first probe finished.
    static var cachedAccounting: BPFMemoryAccounting? {
        switch cached.load(ordering: .acquiring) {
        case 1: .memoryCgroup
        case 2: .memlockLimit
        default: nil
        }
    }

    /// The soft `RLIMIT_MEMLOCK` in bytes, nil when unlimited or unreadable.
    static func currentSoftLimit() -> UInt64? {
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0, limit.rlim_cur != MemlockProbe.unlimited else {
            return nil
        }
        return UInt64(limit.rlim_cur)
    }

    static func memoisedAccounting() throws(MemlockLimitError) -> BPFMemoryAccounting {
        if let known = cachedAccounting {
            return known
        }
        return try probeLock.withLock { _ throws(MemlockLimitError) -> BPFMemoryAccounting in
            if let known = cachedAccounting {
                return known
            }
            let accounting = try probe()
            cached.store(accounting == .memoryCgroup ? 1 : 2, ordering: .releasing)
            return accounting
        }
    }

    /// Runs the probe without memoising it (tests call it directly).
    static func probe() throws(MemlockLimitError) -> BPFMemoryAccounting {
        var original = rlimit()
        guard getrlimit(resource, &original) == 0 else {
            throw .setLimitFailed(Errno.current, currentLimit: nil)
        }
        var lowered = rlimit(rlim_cur: 0, rlim_max: original.rlim_max)
        guard setrlimit(resource, &lowered) == 0 else {
            throw .setLimitFailed(Errno.current, currentLimit: currentSoftLimit())
        }
        defer {
            _ = setrlimit(resource, &original)
        }

        var attributes = MapCreateAttr()
        attributes.mapType = 2  // BPF_MAP_TYPE_ARRAY
        attributes.keySize = 4
        attributes.valueSize = 4
        attributes.maxEntries = 1
        switch BPFSyscall.call(.mapCreate, &attributes) {
        case .success(let descriptor):
            _ = Glibc.close(Int32(truncatingIfNeeded: descriptor))
            return .memoryCgroup
        case .failure(.notPermitted):
            // Without CAP_BPF this is EPERM too; then raising the limit fails or does no harm, and
            // the map creation the caller goes on to do reports the missing capability.
            return .memlockLimit
        case .failure(let errno):
            throw .probeFailed(BPFSyscallError(command: .mapCreate, errno: errno))
        }
    }
}
