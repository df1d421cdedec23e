import EBPFSys
import Glibc

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
    /// - Throws: ``TracefsError/notMounted(searched:)`` naming what was searched and how to mount it.
    public static func find() throws(TracefsError) -> String {
        let mounted = tracefsMountPoints(inMountinfo: readText("/proc/self/mountinfo") ?? "")
        for path in standardPaths where mounted.contains(path) { return path }
        if let other = mounted.first { return other }
        throw .notMounted(searched: standardPaths + ["/proc/self/mountinfo"])
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
        return (path, true)
    }

    /// Whether a tracefs is mounted at `path`, according to `/proc/self/mountinfo`.
    static func isMounted(at path: String) -> Bool {
        tracefsMountPoints(inMountinfo: readText("/proc/self/mountinfo") ?? "").contains(path)
    }

    /// The mount points of tracefs mounts in the text of a `mountinfo` file (proc(5)).
    ///
    /// Each line is `id parent major:minor root mountpoint options [optional...] - fstype source superoptions`;
    /// the mount point escapes space, tab, newline and backslash as octal (`\040`).
    public static func tracefsMountPoints(inMountinfo text: String) -> [String] {
        var result: [String] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 7, let separator = fields.firstIndex(of: "-"), separator + 1 < fields.count
            else { continue }
            if fields[separator + 1] == "tracefs" {
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
