import EBPFCollection
import EBPFSys
import Glibc
import Testing
import TestSupport

@testable import EBPFLink

@Suite(
    "uprobes (root)", .serialized, .checksFileDescriptorLeaks, .requires(.uprobes),
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN for perf events and tracefs"))
struct UprobeTests {
    init() throws {
        if !Tracefs.isMounted(at: "/sys/kernel/tracing") {
            _ = mount("nodev", "/sys/kernel/tracing", "tracefs", 0, nil)
        }
    }

    static func options(forceTracefs: Bool = false) -> ProbeOptions {
        var options = ProbeOptions()
        options.forceTracefs = forceTracefs
        options.groupPrefix = "swiftebpf_test"
        return options
    }

    @Test("counts calls exactly", arguments: [false, true])
    func countsCalls(throughTracefs: Bool) throws {
        guard KernelFeature.uprobes.check() else { return }
        let target = try Executable(path: try UprobeTarget.binary.get())
        let counter = try Counter(type: .kprobe)
        let probe = try Uprobe(
            executable: target, symbol: "counted", program: counter.program,
            options: Self.options(forceTracefs: throughTracefs))
        #expect(probe.usesTracefs == throughTracefs)
        _ = try UprobeTarget.run(calls: 7)
        _ = try UprobeTarget.run(calls: 5)
        #expect(try counter.count() == 12)

        let eventName = probe.tracefsEventName
        if throughTracefs {
            let name = try #require(eventName)
            #expect(try Tracefs.probeEvents(.uprobe).contains { $0.contains(name) })
        }
        try probe.close()
        #expect(probe.isClosed)
        _ = try UprobeTarget.run(calls: 3)
        #expect(try counter.count() == 12, "the program still ran after close")
        if let eventName {
            #expect(!(try Tracefs.probeEvents(.uprobe).contains { $0.contains(eventName) }), "stale uprobe event")
        }
    }

    @Test("uretprobe counts returns", arguments: [false, true])
    func countsReturns(throughTracefs: Bool) throws {
        let target = try Executable(path: try UprobeTarget.binary.get())
        let counter = try Counter(type: .kprobe)
        let probe = try Uprobe(
            executable: target, symbol: "counted", program: counter.program, isReturnProbe: true,
            options: Self.options(forceTracefs: throughTracefs))
        _ = try UprobeTarget.run(calls: 4)
        #expect(try counter.count() == 4)
        try probe.close()
    }

    @Test("a PID filter counts only that process", arguments: [false, true])
    func pidFilter(throughTracefs: Bool) throws {
        let target = try Executable(path: try UprobeTarget.binary.get())
        let counter = try Counter(type: .kprobe)
        let waiting = try UprobeTarget.Waiting(calls: 6)
        var options = Self.options(forceTracefs: throughTracefs)
        options.pid = waiting.pid
        let probe = try Uprobe(executable: target, symbol: "counted", program: counter.program, options: options)
        _ = try UprobeTarget.run(calls: 9)  // another process: not counted
        _ = try waiting.go()
        #expect(try counter.count() == 6)
        try probe.close()
    }

    @Test("ref_ctr_offset raises the semaphore while attached", arguments: [false, true])
    func referenceCounter(throughTracefs: Bool) throws {
        let target = try Executable(path: try UprobeTarget.binary.get())
        let counter = try Counter(type: .kprobe)
        #expect(try UprobeTarget.run(calls: 1) == 0)
        var options = Self.options(forceTracefs: throughTracefs)
        options.referenceCounterOffset = try target.offset(of: "counted_semaphore")
        let probe = try Uprobe(executable: target, symbol: "counted", program: counter.program, options: options)
        #expect(try UprobeTarget.run(calls: 2) == 1)
        #expect(try counter.count() == 2)
        try probe.close()
        #expect(try UprobeTarget.run(calls: 1) == 0)
    }

    @Test("the bpf cookie reaches the program", arguments: [false, true])
    func bpfCookie(throughTracefs: Bool) throws {
        try #require(Features.hasPerfEventLink, "bpf cookies on perf events need Linux 5.15; both test kernels have it")
        let target = try Executable(path: try UprobeTarget.binary.get())
        let counter = try Counter(type: .kprobe, addingCookie: true)
        var options = Self.options(forceTracefs: throughTracefs)
        options.cookie = 1000
        let probe = try Uprobe(executable: target, symbol: "counted", program: counter.program, options: options)
        #expect(probe.usesBPFLink)
        _ = try UprobeTarget.run(calls: 3)
        #expect(try counter.count() == 3000)
        let info = try probe.info()
        #expect(info.progID != 0)
        try probe.close()
    }

    @Test("uprobe.multi counts calls with per-symbol cookies")
    func uprobeMulti() throws {
        let target = try Executable(path: try UprobeTarget.binary.get())
        let counter = try Counter(type: .kprobe, expectedAttachType: .traceUprobeMulti, addingCookie: true)
        let link = try UprobeMulti.attach(
            executable: target, symbols: ["counted", "main"], program: counter.program, cookies: [1, 1000])
        _ = try UprobeTarget.run(calls: 5)
        #expect(try counter.count() == 1005)
        #expect(try link.info().type == 12)  // BPF_LINK_TYPE_UPROBE_MULTI
        try link.close()
        _ = try UprobeTarget.run(calls: 5)
        #expect(try counter.count() == 1005)
    }

    @Test func unknownSymbolNamesIt() throws {
        let target = try Executable(path: try UprobeTarget.binary.get())
        let counter = try Counter(type: .kprobe)
        #expect {
            try Uprobe(executable: target, symbol: "no_such_function", program: counter.program)
        } throws: { error in
            guard case LinkError.binarySymbolNotFound("no_such_function", let path) = error else { return false }
            return path == target.path
        }
    }

    @Test func wrongProgramTypeIsRefused() throws {
        let target = try Executable(path: try UprobeTarget.binary.get())
        let program = try trivialProgram(type: .socketFilter)
        #expect {
            try Uprobe(executable: target, symbol: "counted", program: program)
        } throws: { error in
            guard case LinkError.wrongProgramType(_, let expected, let actual) = error else { return false }
            return expected == [.kprobe] && actual == .socketFilter
        }
    }

    /// The tracefs path (forced here; also the fallback without the uprobe PMU) refuses a path
    /// that `uprobe_events` would split, before writing anything.
    @Test(arguments: ["\r", "\u{0B}", "\u{0C}", "\u{85}"])
    func pathThatTracefsWouldSplitIsRefused(separator: String) throws {
        let target = try UprobeTarget.binary.get()
        // A hard link: Executable resolves symbolic links to the target's own path.
        let link = "/tmp/i16-uprobe\(separator)target-\(getpid())"
        unlink(link)
        try #require(Glibc.link(target, link) == 0)
        defer { unlink(link) }
        let executable = try Executable(path: link)
        let counter = try Counter(type: .kprobe)
        let before = try Tracefs.probeEvents(.uprobe)
        #expect {
            try Uprobe(executable: executable, symbol: "counted", program: counter.program, options: Self.options(forceTracefs: true))
        } throws: { error in
            guard case LinkError.invalidName(let name, _) = error else { return false }
            return name == link
        }
        #expect(try Tracefs.probeEvents(.uprobe) == before)
    }

    @Test func failedTracefsAttachLeavesNoEvent() throws {
        let target = try Executable(path: try UprobeTarget.binary.get())
        let counter = try Counter(type: .kprobe)
        let before = try Tracefs.probeEvents(.uprobe)
        // No such process: the event is written to uprobe_events, then perf_event_open fails.
        var options = Self.options(forceTracefs: true)
        options.pid = 4_194_304
        #expect {
            try Uprobe(executable: target, symbol: "counted", program: counter.program, options: options)
        } throws: { error in
            guard case LinkError.perfEventOpen(_, let errno) = error else { return false }
            return errno == .noSuchProcess
        }
        #expect(try Tracefs.probeEvents(.uprobe) == before)
    }
}

@Suite("uprobe symbol resolution")
struct ExecutableTests {
    @Test func resolvesLibcThroughDynamicSymbols() throws {
        let candidates = ["/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/lib/aarch64-linux-gnu/libc.so.6"]
        let path = try #require(candidates.first { access($0, R_OK) == 0 }, "no libc found")
        let libc = try Executable(path: path)
        let offset = try libc.offset(of: "getpid")
        #expect(offset > 0)
        #expect(throws: LinkError.self) { try libc.offset(of: "definitely_not_in_libc") }
    }

    @Test func addressToOffsetUsesTheContainingSegment() {
        func segment(_ vaddr: UInt64, _ offset: UInt64, _ size: UInt64) -> Executable.LoadSegment {
            Executable.LoadSegment(virtualAddress: vaddr, offset: offset, fileSize: size)
        }
        let segments = [segment(0x400000, 0, 0x1000), segment(0x401000, 0x1000, 0x2000)]
        #expect(Executable.fileOffset(ofAddress: 0x401234, in: segments) == 0x1234)
        #expect(Executable.fileOffset(ofAddress: 0x400010, in: segments) == 0x10)
        #expect(Executable.fileOffset(ofAddress: 0x500000, in: segments) == nil)
        #expect(Executable.fileOffset(ofAddress: UInt64.max, in: [segment(UInt64.max - 1, 0, 10)]) == nil)
    }

    @Test func unreadableBinaryIsAnError() {
        #expect {
            try Executable(path: "/nonexistent/binary")
        } throws: { error in
            if case LinkError.unreadableBinary(let path, _) = error { return path == "/nonexistent/binary" }
            return false
        }
    }
}
