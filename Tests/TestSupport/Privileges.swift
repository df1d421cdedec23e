import Glibc
import Testing

/// What the test process may do in the kernel, read from `/proc/self/status`.
///
/// Privileged tests gate on capabilities, not on the user's name: CI runs as root, a developer may
/// run with `CAP_BPF` and `CAP_PERFMON` only.
public enum Privileges {
    /// The effective capability set, or 0 when it cannot be read.
    public static let effectiveCapabilities: UInt64 = {
        guard let bytes = readFile("/proc/self/status") else { return 0 }
        let text = String(decoding: bytes, as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix("CapEff:") {
            let hex = line.dropFirst("CapEff:".count).trimmingWhitespace()
            return UInt64(hex, radix: 16) ?? 0
        }
        return 0
    }()

    private static func has(_ capability: Int) -> Bool {
        effectiveCapabilities & (UInt64(1) << UInt64(capability)) != 0
    }

    /// `CAP_SYS_ADMIN` (bit 21): everything BPF, on any kernel.
    public static var hasSysAdmin: Bool { has(21) }

    /// Whether the process may create maps and load programs: `CAP_SYS_ADMIN`, or `CAP_BPF` (bit 39).
    public static var canUseBPF: Bool { hasSysAdmin || has(39) }

    /// Whether the process may mount file systems and attach to tracing hooks (`CAP_SYS_ADMIN`).
    public static var canAdminister: Bool { hasSysAdmin }

    /// The reason a privileged test is skipped, for `.enabled(if:_:)`.
    public static let bpfSkipReason: Comment =
        "needs CAP_BPF or CAP_SYS_ADMIN (run as root); CapEff is \(String(effectiveCapabilities, radix: 16))"
}

extension Substring {
    fileprivate func trimmingWhitespace() -> Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" { result = result.dropFirst() }
        while let last = result.last, last == " " || last == "\t" { result = result.dropLast() }
        return result
    }
}
