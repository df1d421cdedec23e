import EBPF
import Glibc
import Testing
import TestSupport

@testable import BPF2SwiftGenerator

/// `execcount`, run as the README runs it: it attaches (kprobe, or the tracepoint on this host),
/// prints a growing total once a second, and exits cleanly on SIGINT.
@Suite("execcount example", .serialized, .checksFileDescriptorLeaks)
struct ExeccountTests {
    @Test(.enabled(if: Privileges.canAdminister, "needs root (CAP_SYS_ADMIN) to attach; CapEff is \(String(Privileges.effectiveCapabilities, radix: 16))"))
    func countsTheExecsItSees() throws {
        let executable = BPF2SwiftTestSupport.executable("execcount")
        try #require(access(executable, X_OK) == 0, "\(executable) was not built")
        let directory = try BPF2SwiftTestSupport.temporaryDirectory()
        defer { BPF2SwiftTestSupport.cleanUp(directory) }
        let execs = 10
        // Start it, wait for its first count (it has attached by then), exec /bin/true a few times,
        // let it print for two more seconds, then stop it with Ctrl-C's signal.
        let script = """
            '\(executable)' > '\(directory)/out' 2> '\(directory)/err' &
            pid=$!
            for i in $(seq 100); do grep -q called '\(directory)/out' && break; sleep 0.1; done
            for i in $(seq \(execs)); do /bin/true; done
            sleep 2.2
            kill -INT $pid
            ( sleep 10; kill -KILL $pid 2>/dev/null ) &
            watchdog=$!
            wait $pid
            echo "status $?"
            kill $watchdog 2>/dev/null
            """
        let result = try runSubprocess("/bin/sh", ["-c", script])
        let output = String(decoding: try Files.read(directory + "/out"), as: UTF8.self)
        let messages = String(decoding: try Files.read(directory + "/err"), as: UTF8.self)
        #expect(result.text == "status 0\n", "stderr: \(messages)")

        let counts = output.split(separator: "\n").compactMap { line -> UInt64? in
            guard line.hasPrefix("sys_execve called "), line.hasSuffix(" times") else { return nil }
            return UInt64(line.dropFirst("sys_execve called ".count).dropLast(" times".count))
        }
        #expect(counts.count >= 2, "output: \(output)")
        if let first = counts.first, let last = counts.last {
            #expect(last >= first + UInt64(execs), "counts \(counts)")
        }
        #expect(counts == counts.sorted())
        // On this host kprobes are missing: one line says so and the tracepoint is used instead.
        if access("/sys/bus/event_source/devices/kprobe", F_OK) != 0 {
            #expect(messages.contains("kprobes not supported by this kernel (needs CONFIG_KPROBES); using tracepoint syscalls:sys_enter_execve instead"))
        } else {
            #expect(messages.contains("attached kprobe to "))
        }
        #expect(messages.hasSuffix("detaching and closing\n"))
    }
}

/// `execinfo`, the CO-RE example: the task_struct fields it reads (relocated for this kernel) name
/// the process that exec'd and its parent.
@Suite("execinfo example", .serialized, .checksFileDescriptorLeaks)
struct ExecinfoTests {
    @Test(.enabled(if: Privileges.canAdminister, "needs root (CAP_SYS_ADMIN) to attach; CapEff is \(String(Privileges.effectiveCapabilities, radix: 16))"))
    func reportsTheExecsParentAndUser() throws {
        let executable = BPF2SwiftTestSupport.executable("execinfo")
        try #require(access(executable, X_OK) == 0, "\(executable) was not built")
        let directory = try BPF2SwiftTestSupport.temporaryDirectory()
        defer { BPF2SwiftTestSupport.cleanUp(directory) }
        // A shell with a recognisable name execs /bin/true as its child; execinfo must report the
        // child with the shell's pid and command as its parent.
        let script = """
            '\(executable)' > '\(directory)/out' 2> '\(directory)/err' &
            pid=$!
            for i in $(seq 100); do grep -q Ctrl-C '\(directory)/err' && break; sleep 0.1; done
            cp /bin/sh '\(directory)/parentsh'
            '\(directory)/parentsh' -c '/bin/true; echo "parent $$" > "\(directory)/parent"'
            sleep 2.2
            kill -INT $pid
            ( sleep 10; kill -KILL $pid 2>/dev/null ) &
            watchdog=$!
            wait $pid
            echo "status $?"
            kill $watchdog 2>/dev/null
            """
        let result = try runSubprocess("/bin/sh", ["-c", script])
        let output = String(decoding: try Files.read(directory + "/out"), as: UTF8.self)
        let messages = String(decoding: try Files.read(directory + "/err"), as: UTF8.self)
        #expect(result.text == "status 0\n", "stderr: \(messages)")
        let parentLine = String(decoding: try Files.read(directory + "/parent"), as: UTF8.self)
        let parent = String(parentLine.dropFirst("parent ".count).dropLast())
        let expected = "(true) uid \(geteuid()), parent \(parent) (parentsh)"
        #expect(output.split(separator: "\n").contains { $0.hasSuffix(expected) }, "no line ending in \(expected): \(output)")
    }
}

@Suite("bpf2swift on every testdata source", .checksFileDescriptorLeaks)
struct TestdataGenerationTests {
    /// Each `testdata/*.c` generates Swift that type-checks against the built EBPF module.
    @Test func everyTestdataSourceGeneratesCompilingSwift() throws {
        let directory = try BPF2SwiftTestSupport.temporaryDirectory()
        defer { BPF2SwiftTestSupport.cleanUp(directory) }
        guard let handle = opendir(TestData.directory) else {
            Issue.record("cannot list \(TestData.directory)")
            return
        }
        var sources: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name.hasSuffix(".c") { sources.append(name) }
        }
        closedir(handle)
        sources.sort()
        #expect(sources.count >= 10)

        var generated: [String] = []
        for source in sources {
            let path = TestData.path(source)
            let text = String(decoding: try Files.read(path), as: UTF8.self)
            // testdata/build.sh reads extra flags from a first line "// cflags: ...".
            var flags = ["-I", TestData.path("include")]
            if let first = text.split(separator: "\n").first, first.hasPrefix("// cflags:") {
                flags += try Options.splitFlags(String(first.dropFirst("// cflags:".count)))
            }
            let stem = String(source.dropLast(2))
            let identifier = "T" + SwiftNames.uppercasedFirst(SwiftNames.camelCased(stem))
            let run = BPF2SwiftTestSupport.bpf2swift(["-output-dir", directory, "-output-stem", stem, identifier, path, "--"] + flags)
            // Where the object reader rejects the committed object, bpf2swift must fail with its error.
            let committed = TestData.path(stem + "-el.o")
            do {
                _ = try CollectionSpec(elfFile: committed)
            } catch {
                #expect(run.status == 1 && run.messages.count == 1, "\(source): \(run.messages)")
                let reason = "\(error)"
                #expect(run.messages.first?.hasSuffix("_bpfel.o: \(reason)") == true, "\(source): \(run.messages) vs \(reason)")
                continue
            }
            #expect(run.status == 0, "\(source): \(run.messages)")
            if run.status == 0 { generated.append(directory + "/" + stem + ".swift") }
        }

        // Type-check all of them at once against the modules this test run was built with.
        let build = BPF2SwiftTestSupport.buildDirectory
        let swiftc = try BPF2SwiftTestSupport.tool("swiftc")
        let arguments = [
            "-typecheck", "-swift-version", "6", "-I", build + "/Modules",
            "-Xcc", "-fmodule-map-file=\(build)/CEBPF.build/module.modulemap",
            "-Xcc", "-I", "-Xcc", BPF2SwiftTestSupport.repository + "/Sources/CSys/include",
        ] + generated
        let result = try runSubprocess(swiftc, arguments)
        #expect(result.status == 0, "swiftc \(arguments.joined(separator: " "))")
    }
}
