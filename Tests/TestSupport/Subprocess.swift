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
