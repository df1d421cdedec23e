import Glibc

/// Finds the tools of the Swift toolchain the tests run with (its clang has the BPF target, and it
/// ships llvm-objdump), so tests need nothing beyond the toolchain.
public enum Toolchain {
    /// `$PATH`, split into directories.
    static var pathDirectories: [String] {
        let path = getenv("PATH").map { String(cString: $0) } ?? ""
        return path.split(separator: ":").map(String.init).filter { !$0.isEmpty }
    }

    /// The directories searched, in order: the one holding the Swift toolchain's `swift-frontend`
    /// (so its clang and llvm-objdump win over other LLVM versions a distribution installed), the
    /// usual toolchain location, then `$PATH`.
    static var searchDirectories: [String] {
        let toolchain = pathDirectories.first { access($0 + "/swift-frontend", X_OK) == 0 }
        return [toolchain, "/opt/swift/usr/bin"].compactMap { $0 } + pathDirectories
    }

    /// The absolute path of the executable `name`, or nil when no searched directory has it.
    public static func tool(_ name: String) -> String? {
        for directory in searchDirectories {
            let candidate = directory + "/" + name
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}
