import EBPF
import Glibc
import Testing
import TestSupport

@testable import BPF2SwiftGenerator

/// The new user's path: `Tests/Packages/LibbpfStyle`, a package that depends on swift-ebpf by
/// path and applies the plugin with no configuration to C sources written for libbpf (libbpf's
/// headers, `"vmlinux.h"` and `<vmlinux.h>` beside them, `BPF_KPROBE`, `BPF_KSYSCALL`,
/// `BPF_PROG`, `BPF_CORE_READ`), is built with `swift build` and run.
@Suite("libbpf-style package through the plugin", .serialized, .checksFileDescriptorLeaks)
struct LibbpfStylePackageTests {
    static let package = BPF2SwiftTestSupport.repository + "/Tests/Packages/LibbpfStyle"
    static let scratch = BPF2SwiftTestSupport.repository + "/.build/libbpf-style"
    static let haveHeaders = access("/usr/include/bpf/bpf_helpers.h", R_OK) == 0
    static let haveKernelBTF = access("/sys/kernel/btf/vmlinux", R_OK) == 0

    @Test(
        .enabled(if: haveHeaders, "needs libbpf's headers (Debian's libbpf-dev: /usr/include/bpf/bpf_helpers.h is missing)"),
        .enabled(if: haveKernelBTF, "needs /sys/kernel/btf/vmlinux to write the package's vmlinux.h"))
    func buildsWithoutConfigurationAndRuns() throws {
        // vmlinux.h beside the sources, as `bpftool btf dump file /sys/kernel/btf/vmlinux format c`
        // would write it; left alone when unchanged so the plugin does not rebuild.
        let header = try BTFSpec(path: "/sys/kernel/btf/vmlinux").cHeaderBytes()
        let headerPath = Self.package + "/Sources/libbpf-style/bpf/vmlinux.h"
        if (try? Files.read(headerPath)) != header { try Files.write(header, to: headerPath) }

        // SwiftPM reuses the scratch's build plan for a path dependency and misses source files
        // added to swift-ebpf since (the build then fails on names they declare): start the
        // scratch afresh when the library's list of files changed.
        let sources = try BPF2SwiftTestSupport.shell(
            "cd '\(BPF2SwiftTestSupport.repository)' && find Sources -name '*.swift' | sort | cksum"
        ).text
        let sourcesRecord = Self.scratch + "/swift-ebpf-sources"
        if (try? Files.read(sourcesRecord)) != Array(sources.utf8) {
            BPF2SwiftTestSupport.removeRecursively(Self.scratch)
            _ = mkdir(Self.scratch, 0o755)
            try Files.write(Array(sources.utf8), to: sourcesRecord)
        }

        let swift = try BPF2SwiftTestSupport.tool("swift")
        let build = try runSubprocess(
            "/bin/sh", ["-c", "'\(swift)' build --package-path '\(Self.package)' --scratch-path '\(Self.scratch)' 2>&1"])
        try #require(build.status == 0, "swift build failed:\n\(build.text)")
        // Quiet generation: bpf_printk's format string is the compiler's name, not the user's.
        #expect(!build.text.contains("renamed:"), "\(build.text)")
        let generated = try Files.read(
            Self.scratch + "/plugins/outputs/libbpfstyle/libbpf-style/destination/BPF2SwiftPlugin/execs.swift")
        let text = String(decoding: generated, as: UTF8.self)
        #expect(text.contains("public struct exec_event"))
        #expect(text.contains("public var commString: String"))
        #expect(text.contains("public mutating func set(minPid value: Int32)"))
        #expect(!text.contains("Fmt"))

        // Without privileges the build and the generated code are what this test checks; loading
        // and attaching the package's programs needs root.
        guard Privileges.canAdminister else { return }
        let run = try runSubprocess("/bin/sh", ["-c", "'\(Self.scratch)/debug/libbpf-style' 2>&1"])
        #expect(run.status == 0, "\(run.text)")
        let lines = run.text.split(separator: "\n").map(String.init)
        #expect(lines.contains("min_pid: 1"))
        #expect(lines.contains("attached: count_syscalls,handle_exec"), "\(run.text)")
        #expect(lines.contains { $0.hasPrefix("exec: true pid ") && $0.hasSuffix(" parent self") }, "\(run.text)")
        #expect(lines.contains("exec_seen: true"))
        #expect(lines.contains("raw_syscalls_at_least_3: true"))
        #expect(lines.contains("probes_loaded: do_unlinkat,entry_probe"), "\(run.text)")
    }
}
