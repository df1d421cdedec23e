import Glibc
import TestSupport
import Testing

/// Programs with USDT probes for the USDT tests: a C program with probes of our own, built at test
/// time against `<sys/sdt.h>` (Debian's systemtap-sdt-dev), a C++ program whose exceptions fire
/// libstdc++'s `throw` probe, and Debian's python3.11.
enum USDTTargets {
    /// The C program's probes: `one` (1 argument), `three` (3), `twelve` (12 arguments of every
    /// size and sign in registers, on the stack and as constants; with gcc's register
    /// allocation), and `guarded` (2 arguments, behind a semaphore). Argument 1 is the base value
    /// every argument is computed from (1 gives `expectedTwelve`), argument 2 how often to fire.
    static let probesSource = """
        #include <sys/sdt.h>
        #include <stdint.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <unistd.h>
        extern unsigned short swiftebpf_guarded_semaphore;
        void fire_guarded(int64_t value, uint16_t small);
        __attribute__((noinline)) static void fire(int64_t base) {
            int8_t s8 = (int8_t)(base - 4);
            uint8_t u8 = (uint8_t)(base + 249);
            int16_t s16 = (int16_t)(base - 1235);
            uint16_t u16 = (uint16_t)(base + 59999);
            int32_t s32 = (int32_t)(base - 100001);
            uint32_t u32 = (uint32_t)(base + 3999999999u);
            int64_t s64 = base - 5000000000001LL;
            uint64_t u64 = (uint64_t)base * 0xfedcba9876543210ULL;
            volatile int32_t stack32 = (int32_t)(-98 - base);
            volatile uint64_t stack64 = (uint64_t)base << 40;
            STAP_PROBE1(swiftebpf, one, s32);
            STAP_PROBE3(swiftebpf, three, u8, s16, stack32);
            STAP_PROBE12(swiftebpf, twelve, s8, u8, s16, u16, s32, u32, s64, u64, 42, -7, stack32, stack64);
            fire_guarded(s64, u16);
        }
        int main(int argc, char **argv) {
            int64_t base = argc > 1 ? atoll(argv[1]) : 1;
            int times = argc > 2 ? atoi(argv[2]) : 1;
            char go;
            if (read(0, &go, 1) != 1) return 2;
            for (int i = 0; i < times; i++) fire(base);
            printf("%u\\n", (unsigned)swiftebpf_guarded_semaphore);
            return 0;
        }
        """
    /// The semaphore needs `_SDT_HAS_SEMAPHORES`, which applies to a whole translation unit.
    static let guardedSource = """
        #define _SDT_HAS_SEMAPHORES 1
        #include <sys/sdt.h>
        #include <stdint.h>
        unsigned short swiftebpf_guarded_semaphore __attribute__((section(".probes"), used));
        __attribute__((noinline)) void fire_guarded(int64_t value, uint16_t small) {
            if (swiftebpf_guarded_semaphore) STAP_PROBE2(swiftebpf, guarded, value, small);
        }
        """
    /// `twelve`'s values for base 1, as `bpf_usdt_arg` returns them (sign- or zero-extended).
    static let expectedTwelve: [Int64] = [
        -3, 250, -1234, 60000, -100000, 4_000_000_000, -5_000_000_000_000,
        Int64(bitPattern: 0xfedc_ba98_7654_3210), 42, -7, -99, 1 << 40,
    ]

    /// Throws and catches as many exceptions as argument 1 says, after a byte on stdin.
    static let throwerSource = """
        #include <cstdio>
        #include <cstdlib>
        #include <stdexcept>
        #include <unistd.h>
        int main(int argc, char **argv) {
            int count = argc > 1 ? atoi(argv[1]) : 1, caught = 0;
            char go;
            if (read(0, &go, 1) != 1) return 2;
            for (int i = 0; i < count; i++) {
                try { throw std::runtime_error("swiftebpf"); } catch (const std::exception &) { caught++; }
            }
            printf("%d\\n", caught);
            return 0;
        }
        """

    static let sdtHeader = "/usr/include/x86_64-linux-gnu/sys/sdt.h"
    static let python = "/usr/bin/python3.11"

    /// Why a target cannot be built or run here (a missing package), or a build failure.
    struct Unavailable: Error, CustomStringConvertible {
        var reason: String
        var description: String { reason }
    }

    /// The C compiler: gcc where installed (it keeps arguments in registers, which the test
    /// needs), else the toolchain's clang (which spills them to the stack).
    static var cCompiler: String? { ["/usr/bin/gcc", Toolchain.tool("clang")].compactMap { $0 }.first { access($0, X_OK) == 0 } }
    static var cxxCompiler: String? { ["/usr/bin/g++", Toolchain.tool("clang++")].compactMap { $0 }.first { access($0, X_OK) == 0 } }

    /// Whether the probe binary can be built here (its header and a C compiler are installed);
    /// a failed build is then a test failure, not a skip.
    static var canBuildProbesBinary: Bool { access(sdtHeader, R_OK) == 0 && cCompiler != nil }
    static let probesBinarySkipReason: Comment =
        "needs <sys/sdt.h> (install systemtap-sdt-dev) and a C compiler (gcc) to build the probe binary"

    static let probesBinary: Result<String, Unavailable> = {
        guard access(sdtHeader, R_OK) == 0 else {
            return .failure(Unavailable(reason: "no <sys/sdt.h> (install systemtap-sdt-dev)"))
        }
        guard let compiler = cCompiler else { return .failure(Unavailable(reason: "no C compiler (install gcc)")) }
        return build(compiler: compiler, sources: ["probes.c": probesSource, "guarded.c": guardedSource], output: "usdt-probes", flags: ["-O2"])
    }()

    static let throwerBinary: Result<String, Unavailable> = {
        guard let compiler = cxxCompiler else { return .failure(Unavailable(reason: "no C++ compiler (install g++)")) }
        return build(compiler: compiler, sources: ["thrower.cpp": throwerSource], output: "usdt-thrower", flags: ["-O1"])
    }()

    static func build(compiler: String, sources: [String: String], output: String, flags: [String]) -> Result<String, Unavailable> {
        var template = Array("/tmp/swift-ebpf-usdt-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }
        guard let directory = created else { return .failure(Unavailable(reason: "mkdtemp failed: errno \(errno)")) }
        let path = String(cString: directory)
        var paths: [String] = []
        for (name, text) in sources.sorted(by: { $0.key < $1.key }) {
            guard let file = fopen(path + "/" + name, "w") else { return .failure(Unavailable(reason: "cannot write \(name)")) }
            fputs(text, file)
            fclose(file)
            paths.append(path + "/" + name)
        }
        let binary = path + "/" + output
        do {
            let result = try runSubprocess(compiler, flags + ["-o", binary] + paths)
            guard result.status == 0 else { return .failure(Unavailable(reason: "\(compiler) exited with \(result.status)")) }
        } catch {
            return .failure(Unavailable(reason: "\(error)"))
        }
        return .success(binary)
    }
}

/// A child process started with its standard input and output on pipes: it waits for ``go()``
/// (one byte on stdin), which leaves the test time to attach with its pid.
struct WaitingProcess: ~Copyable {
    let pid: pid_t
    private var trigger: Int32
    private let output: Int32

    init(_ path: String, _ arguments: [String]) throws {
        var input: [Int32] = [-1, -1]
        var outputPipe: [Int32] = [-1, -1]
        guard pipe(&input) == 0 else { throw USDTTargets.Unavailable(reason: "pipe: errno \(errno)") }
        guard pipe(&outputPipe) == 0 else {
            close(input[0]); close(input[1])
            throw USDTTargets.Unavailable(reason: "pipe: errno \(errno)")
        }
        for end in input + outputPipe { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outputPipe[1], 1)
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, path, &actions, nil, argv, environ)
        close(input[0])
        close(outputPipe[1])
        guard status == 0 else {
            close(input[1])
            close(outputPipe[0])
            throw USDTTargets.Unavailable(reason: "posix_spawn \(path): \(status)")
        }
        pid = child
        trigger = input[1]
        output = outputPipe[0]
    }

    /// Reads the child's standard output up to the first newline: a child that prints a line
    /// when it is ready to wait (past its start-up) lets the test attach only then.
    func readLine() -> String {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let count = read(output, &byte, 1)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 || byte == UInt8(ascii: "\n") { break }
            bytes.append(byte)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Lets the child run, waits for it to exit and returns its exit status and standard output.
    consuming func finish() -> (status: Int32, output: String) {
        var byte: UInt8 = 0x67
        _ = write(trigger, &byte, 1)
        close(trigger)
        trigger = -1
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        var waitStatus: Int32 = 0
        while waitpid(pid, &waitStatus, 0) < 0 && errno == EINTR {}
        let status = (waitStatus & 0x7f) == 0 ? (waitStatus >> 8) & 0xff : 128 + (waitStatus & 0x7f)
        return (status, String(decoding: bytes, as: UTF8.self))
    }

    deinit {
        if trigger >= 0 {
            kill(pid, SIGKILL)
            close(trigger)
            var waitStatus: Int32 = 0
            while waitpid(pid, &waitStatus, 0) < 0 && errno == EINTR {}
        }
        close(output)
    }
}
