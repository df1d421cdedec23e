import Glibc

/// Finds the tools of the Swift toolchain the tests run with (its clang has the BPF target, and it
/// ships llvm-objdump), so tests need nothing beyond the toolchain.
public enum Toolchain {
    /// The directories searched, in order: `$PATH`, then the usual toolchain location.
    static var searchDirectories: [String] {
        let path = getenv("PATH").map { String(cString: $0) } ?? ""
        return path.split(separator: ":").map(String.init) + ["/opt/swift/usr/bin", "/usr/bin"]
    }

    /// The absolute path of the executable `name`, or nil when no searched directory has it.
    public static func tool(_ name: String) -> String? {
        for directory in searchDirectories where !directory.isEmpty {
            let candidate = directory + "/" + name
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}
