import EBPFSys
import Glibc
import Synchronization

/// Where the kernel's tracing file system is, and what went wrong looking for it.
///
/// kprobe and uprobe events fall back to tracefs (`kprobe_events`, `uprobe_events`) when the perf
/// PMUs are missing, and tracepoint ids are read from it. It may be mounted at
/// `/sys/kernel/tracing`, under debugfs at `/sys/kernel/debug/tracing`, or anywhere else.
public enum Tracefs {
    /// The standard mount points, tried in this order before `/proc/self/mountinfo`.
    public static let standardPaths = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]

    /// Finds the mounted tracefs.
    ///
    /// Prefers the standard paths, then takes any other tracefs mount listed in
    /// `/proc/self/mountinfo` (on current kernels a tracefs under debugfs is listed there as well).
    /// The answer is remembered while the same file system is mounted there (one `stat` instead
    /// of reading `mountinfo`); "not mounted" is not remembered.
    /// - Throws: ``TracefsError/notMounted(searched:)`` naming what was searched and how to mount it.
    public static func find() throws(TracefsError) -> String {
        try locator.find()
    }

    /// The process's tracefs finder, over `/proc/self/mountinfo` and `stat`.
    static let locator = TracefsLocator(
        readMountinfo: { readText("/proc/self/mountinfo") }, deviceOf: { device(of: $0) })

    /// The device of the file system mounted at `path` (`st_dev`), nil when there is nothing.
    static func device(of path: String) -> UInt64? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        return UInt64(status.st_dev)
    }

    /// The tracefs mount point to use among the tracefs roots mounted, standard paths first.
    static func preferredMountPoint(inMountinfo text: String) -> String? {
        let mounted = tracefsMountPoints(inMountinfo: text)
        for path in standardPaths where mounted.contains(path) { return path }
        return mounted.first
    }

    /// Finds the mounted tracefs, or mounts one at the first standard path when none is.
    ///
    /// Mounting needs `CAP_SYS_ADMIN`; without it, or when the mount fails, the error says so and
    /// names the command to run.
    /// - Returns: the mount point, and whether this call mounted it there.
    /// - Throws: ``TracefsError/mountFailed(path:errno:)`` when the mount was refused.
    public static func findOrMount() throws(TracefsError) -> (path: String, mountedNow: Bool) {
        if let path = try? find() { return (path, false) }
        let path = standardPaths[0]
        guard Glibc.mount("nodev", path, "tracefs", 0, nil) == 0 else {
            throw .mountFailed(path: path, errno: Errno(rawValue: errno))
        }
        locator.remember(path)
        return (path, true)
    }

    /// Whether a tracefs is mounted at `path`, according to `/proc/self/mountinfo`.
    static func isMounted(at path: String) -> Bool {
        tracefsMountPoints(inMountinfo: readText("/proc/self/mountinfo") ?? "").contains(path)
    }

    /// The mount points of tracefs mounts in the text of a `mountinfo` file (proc(5)).
    ///
    /// Each line is `id parent major:minor root mountpoint options [optional...] - fstype source superoptions`;
    /// the mount point escapes space, tab, newline and backslash as octal (`\040`). Only mounts of
    /// the tracefs root count: a bind mount of one of its directories (root `/events`) has the
    /// file system type but not `kprobe_events` or `uprobe_events`.
    public static func tracefsMountPoints(inMountinfo text: String) -> [String] {
        var result: [String] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 7, let separator = fields.firstIndex(of: "-"), separator + 1 < fields.count
            else { continue }
            if fields[separator + 1] == "tracefs", fields[3] == "/" {
                result.append(unescapeMountPath(fields[4]))
            }
        }
        return result
    }

    static func unescapeMountPath(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        let source = Array(field.utf8)
        var index = 0
        while index < source.count {
            if source[index] == UInt8(ascii: "\\"), index + 3 < source.count,
                let value = UInt8(String(decoding: source[(index + 1)...(index + 3)], as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(source[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func readText(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            result.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: result, as: UTF8.self)
    }
}

/// Finds tracefs through a `mountinfo` text and remembers the mount point it found, with the
/// device of the file system there, for as long as that device is still mounted there. Both
/// sources are parameters so tests can inject them.
final class TracefsLocator: Sendable {
    private let readMountinfo: @Sendable () -> String?
    private let deviceOf: @Sendable (String) -> UInt64?
    private let found = Mutex<(path: String, device: UInt64)?>(nil)

    init(readMountinfo: @escaping @Sendable () -> String?, deviceOf: @escaping @Sendable (String) -> UInt64?) {
        self.readMountinfo = readMountinfo
        self.deviceOf = deviceOf
    }

    func find() throws(TracefsError) -> String {
        if let known = found.withLock({ $0 }), deviceOf(known.path) == known.device { return known.path }
        guard let path = Tracefs.preferredMountPoint(inMountinfo: readMountinfo() ?? "") else {
            // Not remembered: tracefs may be mounted later (findOrMount does).
            found.withLock { $0 = nil }
            throw .notMounted(searched: Tracefs.standardPaths + ["/proc/self/mountinfo"])
        }
        remember(path)
        return path
    }

    /// Remembers `path` as the tracefs mount point, if it can be stat'ed.
    func remember(_ path: String) {
        let device = deviceOf(path)
        found.withLock { $0 = device.map { (path, $0) } }
    }
}

/// Why tracefs could not be used.
public enum TracefsError: Error, Equatable, CustomStringConvertible {
    /// No tracefs is mounted where the library looked.
    case notMounted(searched: [String])
    /// No tracefs was mounted and mounting one at `path` failed (`EPERM` without root).
    case mountFailed(path: String, errno: Errno)

    public var description: String {
        switch self {
        case .notMounted(let searched):
            "tracefs is not mounted (looked at \(searched.joined(separator: ", "))); "
                + "mount it as root with 'mount -t tracefs nodev /sys/kernel/tracing'"
        case .mountFailed(let path, let errno):
            "tracefs is not mounted and mounting it at \(path) failed (\(errno)); "
                + "run as root, or mount it first with 'mount -t tracefs nodev \(path)'"
        }
    }
}
