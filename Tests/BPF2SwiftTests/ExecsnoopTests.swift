import EBPF
import Glibc
import Testing
import TestSupport

@testable import BPF2SwiftGenerator

/// `execsnoop`, the ring buffer example, run as the README runs it: every exec made while it runs
/// shows up as one line with its command, pid, parent, return value and arguments.
@Suite("execsnoop example", .serialized, .checksFileDescriptorLeaks)
struct ExecsnoopTests {
    @Test(.enabled(if: Privileges.canAdminister, "needs root (CAP_SYS_ADMIN) to attach; CapEff is \(String(Privileges.effectiveCapabilities, radix: 16))"))
    func reportsEveryExecOfABurstWithItsArguments() throws {
        let executable = BPF2SwiftTestSupport.executable("execsnoop")
        try #require(access(executable, X_OK) == 0, "\(executable) was not built")
        let directory = try BPF2SwiftTestSupport.temporaryDirectory()
        defer { BPF2SwiftTestSupport.cleanUp(directory) }
        let runs = 40
        let marker = "execsnoop-test-\(getpid())"
        // Start it, wait for its header (it has attached by then), start 40 /bin/true at once in
        // the background, wait for them, give the reader a moment, then stop it with SIGINT.
        let script = """
            '\(executable)' > '\(directory)/out' 2> '\(directory)/err' &
            pid=$!
            for i in $(seq 100); do grep -q PCOMM '\(directory)/out' && break; sleep 0.1; done
            echo $$ > '\(directory)/shell'
            children=
            for i in $(seq \(runs)); do /bin/true \(marker)-$i second-argument & children="$children $!"; done
            for child in $children; do wait $child; done
            sleep 1
            kill -INT $pid
            ( sleep 10; kill -KILL $pid ) > /dev/null 2>&1 &
            watchdog=$!
            wait $pid
            echo "status $?"
            kill $watchdog 2>/dev/null
            """
        let result = try runSubprocess("/bin/sh", ["-c", script])
        let output = String(decoding: try Files.read(directory + "/out"), as: UTF8.self)
        let messages = String(decoding: try Files.read(directory + "/err"), as: UTF8.self)
        #expect(result.text == "status 0\n", "stderr: \(messages)")
        let shell = String(String(decoding: try Files.read(directory + "/shell"), as: UTF8.self).dropLast())

        let lines = output.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        #expect(lines.first?.map(String.init) == ["PCOMM", "PID", "PPID", "RET", "ARGS"])
        var reported: Set<Int> = []
        for fields in lines where fields.count == 7 && fields[5].hasPrefix(marker + "-") {
            // PCOMM PID PPID RET /bin/true MARKER-N second-argument
            #expect(fields[0] == "true")
            #expect(Int(fields[1]) != nil)
            #expect(String(fields[2]) == shell, "the parent is the shell that started it")
            #expect(fields[3] == "0")
            #expect(fields[4] == "/bin/true")
            #expect(fields[6] == "second-argument")
            if let run = Int(fields[5].dropFirst(marker.count + 1)) {
                #expect(reported.insert(run).inserted, "run \(run) reported twice")
            }
        }
        #expect(reported == Set(1...runs), "missing runs \(Set(1...runs).subtracting(reported).sorted()); output:\n\(output)")
        #expect(messages.hasSuffix("detaching and closing\n"), "stderr: \(messages)")
    }

    @Test func rejectsUnknownOptions() throws {
        let executable = BPF2SwiftTestSupport.executable("execsnoop")
        try #require(access(executable, X_OK) == 0, "\(executable) was not built")
        let result = try runSubprocess("/bin/sh", ["-c", "'\(executable)' --bogus 2>&1; echo \"status $?\""])
        #expect(result.text.hasPrefix("usage: execsnoop"))
        #expect(result.text.hasSuffix("status 2\n"))
    }
}
