import Glibc

/// Why bpf2swift failed; printed as `bpf2swift: <description>`.
enum BPF2SwiftError: Error, CustomStringConvertible {
    case usage(UsageError)
    /// No clang was found, or the one found has no BPF target.
    case noBPFCompiler(String)
    /// clang (or the strip tool) exited with `status`; its own messages went to standard error.
    case toolFailed(tool: String, arguments: [String], status: Int32)
    case spawnFailed(tool: String, errno: Int32)
    /// A file could not be read, written or created.
    case file(path: String, operation: String, errno: Int32)
    /// The object at `path` is not a BPF object the reader accepts.
    case object(path: String, error: String)
    /// The generator could not describe something in Swift (a `-type` that does not exist, BTF it
    /// cannot lay out).
    case generation(String)

    var description: String {
        switch self {
        case .usage(let error): "\(error)\n\(Options.usage)"
        case .noBPFCompiler(let text): text
        case .toolFailed(let tool, let arguments, let status):
            "\(tool) failed with exit status \(status): \(([tool] + arguments).map(shellQuoted).joined(separator: " "))"
        case .spawnFailed(let tool, let code): "cannot run \(tool): \(String(cString: strerror(code)))"
        case .file(let path, let operation, let code): "\(operation) \(path): \(String(cString: strerror(code)))"
        case .object(let path, let error): "\(path): \(error)"
        case .generation(let text): text
        }
    }
}

/// `word` quoted for a shell when it needs it, for messages and the regenerate comment.
func shellQuoted(_ word: String) -> String {
    let plain = !word.isEmpty && word.unicodeScalars.allSatisfy {
        ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") || "-_./=,:+@%".unicodeScalars.contains($0)
    }
    if plain { return word }
    return "'" + word.replacingAll("'", with: "'\\''") + "'"
}

extension String {
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var result = ""
        for character in self { if character == target { result += replacement } else { result.append(character) } }
        return result
    }
}

/// Runs `executable`; standard error is inherited so the user sees the tool's own messages, and
/// standard output is returned when `captureOutput`, otherwise inherited as well.
func run(_ executable: String, _ arguments: [String], captureOutput: Bool = false) throws(BPF2SwiftError) -> (status: Int32, output: [UInt8]) {
    var pipeEnds: [Int32] = [-1, -1]
    if captureOutput {
        guard pipe(&pipeEnds) == 0 else { throw .spawnFailed(tool: executable, errno: errno) }
        for end in pipeEnds { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    if captureOutput { posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], STDOUT_FILENO) }

    let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var child: pid_t = 0
    // posix_spawnp searches $PATH for a bare tool name, as a shell would.
    let spawnStatus = posix_spawnp(&child, executable, &actions, nil, argv, environ)
    if captureOutput { close(pipeEnds[1]) }
    guard spawnStatus == 0 else {
        if captureOutput { close(pipeEnds[0]) }
        throw .spawnFailed(tool: executable, errno: spawnStatus)
    }
    var output: [UInt8] = []
    if captureOutput {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(pipeEnds[0], $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            output.append(contentsOf: chunk[0..<count])
        }
        close(pipeEnds[0])
    }
    var waitStatus: Int32 = 0
    while waitpid(child, &waitStatus, 0) < 0 {
        guard errno == EINTR else { throw .spawnFailed(tool: executable, errno: errno) }
    }
    let signal = waitStatus & 0x7f
    return (signal == 0 ? (waitStatus >> 8) & 0xff : 128 + signal, output)
}

// MARK: - Files

enum Files {
    static func read(_ path: String) throws(BPF2SwiftError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .file(path: path, operation: "open", errno: errno) }
        defer { close(descriptor) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .file(path: path, operation: "read", errno: errno)
            }
            if count == 0 { return result }
            result.append(contentsOf: chunk[0..<count])
        }
    }

    /// Writes `bytes` to `path` through a temporary file renamed over it, so a reader (or an
    /// interrupted build) never sees half a file.
    static func write(_ bytes: [UInt8], to path: String) throws(BPF2SwiftError) {
        let temporary = path + ".tmp\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .file(path: temporary, operation: "create", errno: errno) }
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress.map { $0 + written }, bytes.count - written) }
            if count < 0 {
                if errno == EINTR { continue }
                let code = errno
                close(descriptor)
                unlink(temporary)
                throw .file(path: temporary, operation: "write", errno: code)
            }
            written += count
        }
        close(descriptor)
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw .file(path: path, operation: "rename to", errno: code)
        }
    }

    /// Creates `path` and its missing parents.
    static func makeDirectories(_ path: String) throws(BPF2SwiftError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw .file(path: prefix, operation: "create directory", errno: errno)
            }
            prefix += "/"
        }
    }

    /// A new empty directory under `$TMPDIR` (or /tmp).
    static func makeTemporaryDirectory() throws(BPF2SwiftError) -> String {
        let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array((base + "/bpf2swift.XXXXXX").utf8CString)
        let created = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }
        guard created != nil else { throw .file(path: base, operation: "create a temporary directory in", errno: errno) }
        return String(decoding: template.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func removeTree(_ path: String) {
        guard let handle = opendir(path) else { return }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(handle)
        for name in names { unlink(path + "/" + name) }
        rmdir(path)
    }

    /// The modification time in nanoseconds, or nil when `path` does not exist.
    static func modificationTime(_ path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mtim.tv_sec * 1_000_000_000 + info.st_mtim.tv_nsec
    }

    static func isExecutable(_ path: String) -> Bool {
        var info = stat()
        return access(path, X_OK) == 0 && stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }
}
