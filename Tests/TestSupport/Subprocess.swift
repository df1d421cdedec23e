import Glibc

/// The outcome of a finished child process.
public struct SubprocessResult: Sendable {
    /// The exit status, or 128 + the signal number when a signal ended it.
    public var status: Int32
    public var standardOutput: [UInt8]
    public var text: String { String(decoding: standardOutput, as: UTF8.self) }
}

/// Why a child process could not be run.
public struct SubprocessError: Error, CustomStringConvertible {
    public var executable: String
    public var operation: String
    public var errno: Int32
    public var description: String {
        "\(operation) for \(executable) failed: \(String(cString: strerror(errno)))"
    }
}

/// Runs `executable` with `arguments`, collecting its standard output; standard error is inherited.
///
/// Built on posix_spawn rather than Foundation's `Process`, which keeps event descriptors open for
/// the rest of the process and would trip the descriptor-leak check.
public func runSubprocess(_ executable: String, _ arguments: [String]) throws -> SubprocessResult {
    var pipeEnds: [Int32] = [-1, -1]
    guard pipe(&pipeEnds) == 0 else {
        throw SubprocessError(executable: executable, operation: "pipe", errno: errno)
    }
    // Glibc's module does not export pipe2; mark both ends close-on-exec right away instead.
    for end in pipeEnds { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
    let (readEnd, writeEnd) = (pipeEnds[0], pipeEnds[1])
    defer { close(readEnd) }

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, writeEnd, STDOUT_FILENO)

    let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }

    var child: pid_t = 0
    let spawnStatus = posix_spawn(&child, executable, &actions, nil, argv, environ)
    close(writeEnd)
    guard spawnStatus == 0 else {
        throw SubprocessError(executable: executable, operation: "posix_spawn", errno: spawnStatus)
    }

    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        if count <= 0 { break }
        output.append(contentsOf: chunk[0..<count])
    }

    var waitStatus: Int32 = 0
    while waitpid(child, &waitStatus, 0) < 0 {
        guard errno == EINTR else {
            throw SubprocessError(executable: executable, operation: "waitpid", errno: errno)
        }
    }
    let signal = waitStatus & 0x7f
    let status = signal == 0 ? (waitStatus >> 8) & 0xff : 128 + signal
    return SubprocessResult(status: status, standardOutput: output)
}

/// A shell child that waits for a go-ahead line on its standard input before each step of its
/// script, so a test knows its process id before the steps run and can filter what it measures
/// on it (a probe on `sys_execve` sees every exec on the machine, including other tests' children).
///
/// `script` runs under `/bin/sh -c`; each `read go` in it waits for one `proceed()`, and each
/// `echo` tells `awaitLine()` that a step is done. Exec'ing keeps the process id, so
/// `exec /usr/bin/env /bin/true` is two execs by the same process.
public struct HeldChild: ~Copyable {
    public let pid: pid_t
    private let input: Int32
    private let output: Int32

    public init(script: String) throws {
        var toChild: [Int32] = [-1, -1]
        var fromChild: [Int32] = [-1, -1]
        guard pipe(&toChild) == 0 else { throw SubprocessError(executable: "/bin/sh", operation: "pipe", errno: errno) }
        guard pipe(&fromChild) == 0 else {
            let failure = errno
            close(toChild[0])
            close(toChild[1])
            throw SubprocessError(executable: "/bin/sh", operation: "pipe", errno: failure)
        }
        for end in toChild + fromChild { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        defer {
            close(toChild[0])
            close(fromChild[1])
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toChild[0], STDIN_FILENO)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], STDOUT_FILENO)
        let arguments: [String] = ["/bin/sh", "-c", script]
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, "/bin/sh", &actions, nil, argv, environ)
        guard status == 0 else {
            close(toChild[1])
            close(fromChild[0])
            throw SubprocessError(executable: "/bin/sh", operation: "posix_spawn", errno: status)
        }
        (pid, input, output) = (child, toChild[1], fromChild[0])
    }

    /// Lets the child past its next `read go`.
    public func proceed() throws {
        let written = write(input, "go\n", 3)
        guard written == 3 else { throw SubprocessError(executable: "/bin/sh", operation: "write", errno: errno) }
    }

    /// Waits for the child's next line of output (an `echo` in the script marks a finished step).
    public func awaitLine() throws {
        var byte: UInt8 = 0
        while true {
            let count = read(output, &byte, 1)
            if count < 0 && errno == EINTR { continue }
            guard count == 1 else { throw SubprocessError(executable: "/bin/sh", operation: "read (the child ended early)", errno: errno) }
            if byte == UInt8(ascii: "\n") { return }
        }
    }

    /// Closes the child's input and waits for it to end; returns its exit status.
    public consuming func wait() throws -> Int32 {
        let pid = self.pid
        close(input)
        close(output)
        discard self
        var waitStatus: Int32 = 0
        while waitpid(pid, &waitStatus, 0) < 0 {
            guard errno == EINTR else { throw SubprocessError(executable: "/bin/sh", operation: "waitpid", errno: errno) }
        }
        return (waitStatus & 0x7f) == 0 ? (waitStatus >> 8) & 0xff : 128 + (waitStatus & 0x7f)
    }

    /// A child the test did not wait for (a failed expectation threw) is killed and reaped.
    deinit {
        close(input)
        close(output)
        kill(pid, SIGKILL)
        var waitStatus: Int32 = 0
        while waitpid(pid, &waitStatus, 0) < 0 && errno == EINTR {}
    }
}
