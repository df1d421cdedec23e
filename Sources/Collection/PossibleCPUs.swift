import EBPFSys
import Glibc

/// The number of CPUs the kernel may ever bring online, which sizes the values of per-CPU maps.
///
/// Read once per process from `/sys/devices/system/cpu/possible` (a list such as `0-7` or
/// `0,2-5`); the kernel keeps one value slot for each CPU in it.
public enum PossibleCPUs {
    /// The number of possible CPUs, memoised after the first successful read.
    public static func count() throws(PossibleCPUsError) -> Int {
        try memoised.get()
    }

    private static let memoised: Result<Int, PossibleCPUsError> = {
        let path = "/sys/devices/system/cpu/possible"
        guard let text = readSmallFile(path) else {
            return .failure(.unreadable(path: path, errno: Errno(rawValue: Glibc.errno)))
        }
        return parse(text).map { .success($0) } ?? .failure(.malformed(path: path, contents: text))
    }()

    /// The number of CPUs in a kernel CPU list (`0-3,6`), nil when it is not one.
    static func parse(_ text: String) -> Int? {
        var total = 0
        let trimmed = text.split(whereSeparator: \.isWhitespace).joined()
        guard !trimmed.isEmpty else { return nil }
        for part in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard bounds.count == 1 || bounds.count == 2,
                let first = Int(bounds[0]), let last = Int(bounds[bounds.count - 1]),
                first >= 0, last >= first
            else { return nil }
            // last - first cannot overflow (both are at least 0); the count and the sum can.
            let (span, spanOverflow) = (last - first).addingReportingOverflow(1)
            let (sum, overflow) = total.addingReportingOverflow(span)
            guard !spanOverflow, !overflow else { return nil }
            total = sum
        }
        return total
    }

    private static func readSmallFile(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { _ = close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let length = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard length >= 0 else { return nil }
        return String(decoding: buffer[..<length], as: UTF8.self)
    }
}

/// The number of possible CPUs could not be determined.
public enum PossibleCPUsError: Error, Hashable, Sendable, CustomStringConvertible {
    case unreadable(path: String, errno: Errno)
    case malformed(path: String, contents: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let errno):
            return "reading the possible CPUs from \(path): \(errno)"
        case .malformed(let path, let contents):
            return "\(path) is not a CPU list: \"\(contents)\""
        }
    }
}
