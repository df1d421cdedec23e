import Glibc
import TestSupport

/// A small C program built at test time with the toolchain's clang, whose function `counted` the
/// uprobe tests probe. It calls `counted` as often as its first argument says; with a second
/// argument it first waits for a byte on stdin (so a test can attach with its pid), and it prints
/// the value of its USDT-style semaphore `counted_semaphore`.
enum UprobeTarget {
    static let source = """
        #include <stdio.h>
        #include <stdlib.h>
        #include <unistd.h>
        unsigned short counted_semaphore __attribute__((section(".probes"), used)) = 0;
        __attribute__((noinline)) int counted(int value) {
            __asm__ volatile("" ::: "memory");
            return value + 1;
        }
        int main(int argc, char **argv) {
            int calls = argc > 1 ? atoi(argv[1]) : 0;
            if (argc > 2) { char go; if (read(0, &go, 1) != 1) return 2; }
            printf("%u\\n", (unsigned)counted_semaphore);
            fflush(stdout);
            int sum = 0;
            for (int i = 0; i < calls; i++) sum += counted(i);
            return sum == -1;
        }
        """

    static let clang = "/opt/swift/usr/bin/clang"

    /// The built binary's path, or why it could not be built.
    static let binary: Result<String, BuildError> = {
        var template = Array("/tmp/swift-ebpf-uprobe-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }
        guard let directory = created else {
            return .failure(BuildError(reason: "mkdtemp failed: errno \(errno)"))
        }
        let path = String(cString: directory)
        let sourcePath = path + "/target.c"
        let binaryPath = path + "/uprobe-target"
        guard let file = fopen(sourcePath, "w") else { return .failure(BuildError(reason: "cannot write \(sourcePath)")) }
        fputs(source, file)
        fclose(file)
        do {
            let result = try runSubprocess(clang, ["-O1", "-g0", "-o", binaryPath, sourcePath])
            guard result.status == 0 else {
                return .failure(BuildError(reason: "clang exited with \(result.status)"))
            }
        } catch {
            return .failure(BuildError(reason: "\(error)"))
        }
        return .success(binaryPath)
    }()

    /// Copies of the binary for the other suites that count `counted` calls. A uprobe fires for
    /// every process running the probed file, and suites run in parallel: each suite probes and
    /// runs its own file, so one suite's runs never reach another's counters.
    static let uprobeMultiCopy = copy(named: "uprobe-multi-target")
    static let faultInjectionCopy = copy(named: "fault-injection-target")

    private static func copy(named name: String) -> Result<String, BuildError> {
        binary.flatMap { original in
            let path = String(original.dropLast("uprobe-target".count)) + name
            do {
                let result = try runSubprocess("/bin/cp", [original, path])
                return result.status == 0 ? .success(path) : .failure(BuildError(reason: "cp exited with \(result.status)"))
            } catch {
                return .failure(BuildError(reason: "\(error)"))
            }
        }
    }

    struct BuildError: Error, CustomStringConvertible {
        var reason: String
        var description: String { "building the uprobe target failed: \(reason)" }
    }

    /// Runs the target (`binary` or one of its copies) with `calls` calls of `counted` and returns the semaphore value it printed.
    static func run(calls: Int, of target: Result<String, BuildError> = binary) throws -> Int {
        let result = try runSubprocess(try target.get(), [String(calls)])
        guard result.status == 0 else { throw BuildError(reason: "target exited with \(result.status)") }
        return Int(result.text.trimmingSpaces()) ?? -1
    }

    /// A started target that waits for ``go()`` before calling `counted`.
    struct Waiting: ~Copyable {
        let pid: pid_t
        private let trigger: Int32
        private let output: Int32

        init(calls: Int, of target: Result<String, BuildError> = binary) throws {
            let path = try target.get()
            var input: [Int32] = [-1, -1]
            var outputPipe: [Int32] = [-1, -1]
            guard pipe(&input) == 0, pipe(&outputPipe) == 0 else { throw BuildError(reason: "pipe: errno \(errno)") }
            for end in input + outputPipe { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_adddup2(&actions, input[0], 0)
            posix_spawn_file_actions_adddup2(&actions, outputPipe[1], 1)
            let arguments: [String] = [path, String(calls), "wait"]
            let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
            defer { for pointer in argv { free(pointer) } }
            var child: pid_t = 0
            let status = posix_spawn(&child, path, &actions, nil, argv, environ)
            close(input[0])
            close(outputPipe[1])
            guard status == 0 else {
                close(input[1])
                close(outputPipe[0])
                throw BuildError(reason: "posix_spawn: \(status)")
            }
            pid = child
            trigger = input[1]
            output = outputPipe[0]
        }

        /// Lets the target run to the end; returns the semaphore value it printed.
        consuming func go() throws -> Int {
            var byte: UInt8 = 1
            _ = write(trigger, &byte, 1)
            var text: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 256)
            while true {
                let count = chunk.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                text += chunk[0..<count]
            }
            var waitStatus: Int32 = 0
            while waitpid(pid, &waitStatus, 0) < 0 && errno == EINTR {}
            return Int(String(decoding: text, as: UTF8.self).trimmingSpaces()) ?? -1
        }

        deinit {
            close(trigger)
            close(output)
            var waitStatus: Int32 = 0
            while waitpid(pid, &waitStatus, 0) < 0 && errno == EINTR {}
        }
    }
}

extension String {
    func trimmingSpaces() -> String {
        String(self.drop(while: { $0.isWhitespace }).reversed().drop(while: { $0.isWhitespace }).reversed())
    }
}
