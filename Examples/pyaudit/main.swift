// pyaudit: `swift run pyaudit -- COMMAND [ARGS...]` runs COMMAND (a Python 3.8+ interpreter with
// USDT probes, such as Debian's python3.11), counts its audit events through the python:audit
// probe, and when it exits prints `COUNT NAME` per event name, most frequent first. The BPF side is
// bpf/pyaudit.bpf.c (built against Examples/include/ebpf_usdt.h, which keeps libbpf's usdt.bpf.h
// contract), compiled and turned into Swift (loadPyaudit) by the BPF2SwiftPlugin.
import EBPF
import Glibc

func message(_ text: String) {
    let bytes = Array((text + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
}

struct Failure: Error, CustomStringConvertible {
    var description: String
}

/// The absolute path of `command`: as given when it has a slash, else the first match in $PATH.
func resolve(_ command: String) throws -> String {
    let candidates = command.contains("/")
        ? [command]
        : (getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin").split(separator: ":").map { "\($0)/\(command)" }
    for candidate in candidates where access(candidate, X_OK) == 0 {
        guard let resolved = realpath(candidate, nil) else { continue }
        defer { free(resolved) }
        return String(cString: resolved)
    }
    throw Failure(description: "\(command): not found")
}

/// Starts `path` with `arguments` held at a shell's `read` until a line arrives on the returned
/// descriptor; the shell then execs the command, keeping the pid the probe is filtered on.
func spawnHeld(_ path: String, _ arguments: [String]) throws -> (pid: pid_t, release: Int32) {
    var ends: [Int32] = [-1, -1]
    guard pipe(&ends) == 0 else { throw Failure(description: "pipe: \(String(cString: strerror(errno)))") }
    _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, ends[0], 3)
    let script = "read -r _ <&3; exec 3<&-; exec \"$@\""
    let words = ["/bin/sh", "-c", script, "pyaudit", path] + arguments
    let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var child: pid_t = 0
    let status = posix_spawn(&child, "/bin/sh", &actions, nil, argv, environ)
    close(ends[0])
    guard status == 0 else {
        close(ends[1])
        throw Failure(description: "posix_spawn /bin/sh: \(String(cString: strerror(status)))")
    }
    return (child, ends[1])
}

/// `COUNT NAME` lines, most frequent first, then by name.
func report(_ counts: Map) throws -> [String] {
    var rows: [(name: String, count: UInt64)] = []
    var key: [UInt8]? = nil
    while let next = try counts.nextKey(after: key) {
        key = next
        guard let value = try counts.lookup(keyBytes: next) else { continue }
        let name = String(decoding: next.prefix { $0 != 0 }, as: UTF8.self)
        rows.append((name, value.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }))
    }
    rows.sort { $0.count != $1.count ? $0.count > $1.count : $0.name < $1.name }
    return rows.map { "\($0.count) \($0.name)" }
}

func main() throws -> Int32 {
    let command = Array(CommandLine.arguments.dropFirst().drop { $0 == "--" })
    guard let first = command.first else {
        message("usage: pyaudit COMMAND [ARGS...]   (for example: pyaudit python3.11 -c 'import os')")
        return 64
    }
    let path = try resolve(first)
    let collection = try LoadedCollection(spec: try loadPyaudit())
    defer { collection.close() }
    let (pid, release) = try spawnHeld(path, Array(command.dropFirst()))
    let link: USDT
    do {
        link = try USDT(
            path: path, provider: "python", name: "audit", program: try collection.program("handle_audit"),
            collection: collection, options: USDTOptions(pid: pid))
    } catch {
        kill(pid, SIGKILL)
        close(release)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        throw error
    }
    defer { try? link.close() }
    _ = write(release, "\n", 1)
    close(release)
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    try link.close()
    for line in try report(try collection.map("audit_counts")) { print(line) }
    return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
}

do {
    exit(try main())
} catch {
    message("pyaudit: \(error)")
    exit(1)
}
