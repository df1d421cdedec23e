import EBPFCollection
import EBPFSys
import Glibc
import Testing
import TestSupport

@testable import EBPFLink

#if arch(x86_64)
    let getpidSyscall: Int32 = 39
#elseif arch(arm64)
    let getpidSyscall: Int32 = 172
#endif

/// The calling thread's id.
func currentThreadID() -> Int32 {
    // Glibc's module does not export gettid(); /proc/thread-self links to "<pid>/task/<tid>".
    var buffer = [CChar](repeating: 0, count: 64)
    let length = readlink("/proc/thread-self", &buffer, buffer.count - 1)
    guard length > 0 else { return -1 }
    let text = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return text.split(separator: "/").last.flatMap { Int32($0) } ?? -1
}

/// Makes `count` getpid system calls from this thread (glibc has not cached the pid since 2.25).
func callGetpid(times count: Int) {
    for _ in 0..<count { _ = getpid() }
}

@Suite(
    "tracepoints, raw tracepoints and perf events (root)", .serialized, .checksFileDescriptorLeaks,
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN for perf events and tracefs"))
struct TracepointTests {
    init() {
        if !Tracefs.isMounted(at: "/sys/kernel/tracing") {
            _ = mount("nodev", "/sys/kernel/tracing", "tracefs", 0, nil)
        }
    }

    @Test func tracepointCountsSyscalls() throws {
        let counter = try Counter(type: .tracepoint, onlyThread: currentThreadID())
        let link = try Tracepoint(group: "syscalls", name: "sys_enter_getpid", program: counter.program)
        callGetpid(times: 5)
        #expect(try counter.count() == 5)
        try link.close()
        callGetpid(times: 2)
        #expect(try counter.count() == 5)
    }

    @Test func missingTracepointIsNamed() throws {
        let program = try trivialProgram(type: .tracepoint)
        #expect {
            try Tracepoint(group: "syscalls", name: "sys_enter_nothing_like_this", program: program)
        } throws: { error in
            if case LinkError.tracepointNotFound("syscalls", "sys_enter_nothing_like_this") = error { return true }
            return false
        }
        #expect(throws: LinkError.self) {
            try Tracepoint(group: "..", name: "x", program: program)
        }
    }

    @Test func rawTracepointCountsSyscalls() throws {
        // sys_enter(regs, id): the second argument is the syscall number.
        let counter = try Counter(
            type: .rawTracepoint, onlyThread: currentThreadID(), contextWord: (offset: 8, value: getpidSyscall))
        let link = try RawTracepoint.attach(name: "sys_enter", program: counter.program)
        callGetpid(times: 4)
        #expect(try counter.count() == 4)
        let info = try link.info()
        #expect(info.id != 0)
        #expect(info.type == 1)  // BPF_LINK_TYPE_RAW_TRACEPOINT
        try link.close()
        callGetpid(times: 1)
        #expect(try counter.count() == 4)
    }

    @Test func linksArePinnedAndOpenedByID() throws {
        // Named before attaching: the counter counts getpid calls.
        let path = "/sys/fs/bpf/swiftebpf_test_link_\(getpid())"
        let counter = try Counter(
            type: .rawTracepoint, onlyThread: currentThreadID(), contextWord: (offset: 8, value: getpidSyscall))
        let link = try RawTracepoint.attach(name: "sys_enter", program: counter.program)
        let id = try link.info().id
        try link.pin(at: path)
        defer { unlink(path) }
        try link.close()
        callGetpid(times: 2)
        #expect(try counter.count() == 2, "a pinned link stays attached after its descriptor closes")

        let reopened = try RawLink(pinnedAt: path)
        #expect(try reopened.info().id == id)
        let byID = try RawLink(id: id)
        #expect(try byID.info().progID == (try reopened.info().progID))
        try byID.close()
        unlink(path)
        // Raw tracepoint links cannot be detached while open (the kernel has no detach for them).
        #expect {
            try reopened.detach()
        } throws: { error in
            guard case LinkError.syscall(_, let syscallError) = error else { return false }
            return syscallError.errno == .notSupported
        }
        try reopened.close()
        callGetpid(times: 2)
        #expect(try counter.count() == 2, "closing the last descriptor of an unpinned link detaches it")
        #expect(throws: LinkError.self) { try reopened.info() }
    }

    @Test func rawTracepointUnknownNameIsNamed() throws {
        let program = try trivialProgram(type: .rawTracepoint)
        #expect {
            try RawTracepoint.attach(name: "no_such_tracepoint_xyz", program: program)
        } throws: { error in
            if case LinkError.tracepointNotFound(_, "no_such_tracepoint_xyz") = error { return true }
            return false
        }
    }

    @Test func samplingProgramRunsOnCPUClock() throws {
        let counter = try Counter(type: .perfEvent)
        let sampler = try PerfEventSampler(
            samplePeriod: 1000, useFrequency: true, program: counter.program)
        var spin: UInt64 = 0
        let start = clock()
        while clock() - start < CLOCKS_PER_SEC / 5 { spin &+= 1 }
        #expect(spin > 0)
        try sampler.close()
        let after = try counter.count()
        #expect(after > 0, "no samples in 200 ms of CPU time at 1000 Hz")
        var busy: UInt64 = 0
        let again = clock()
        while clock() - again < CLOCKS_PER_SEC / 20 { busy &+= 1 }
        #expect(try counter.count() == after, "samples after close")
    }

    @Test(.requires(.hardwarePMU)) func hardwareEventsSample() throws {
        let counter = try Counter(type: .perfEvent)
        let sampler = try PerfEventSampler(hardwareEvent: .cpuCycles, samplePeriod: 100_000, program: counter.program)
        try sampler.close()
    }

    /// Virtual machines often have no CPU PMU; then the error names the event and suggests a
    /// software event, which works.
    @Test(.lacks(.hardwarePMU)) func hardwareEventsWithoutAPMUSuggestASoftwareEvent() throws {
        let counter = try Counter(type: .perfEvent)
        #expect {
            try PerfEventSampler(hardwareEvent: .instructions, samplePeriod: 100_000, program: counter.program)
        } throws: { error in
            guard case LinkError.notSupported(let feature, _, let detail) = error else { return false }
            return feature == "hardware perf event 1" && detail.contains("SoftwareEvent.cpuClock")
        }
        let software = try PerfEventSampler(softwareEvent: .taskClock, samplePeriod: 1000, useFrequency: true, program: counter.program)
        try software.close()
    }

    @Test func cpuListParsing() {
        #expect(PerfEventSampler.parseCPUList("0-3,5\n") == [0, 1, 2, 3, 5])
        #expect(PerfEventSampler.parseCPUList("0") == [0])
        #expect(PerfEventSampler.parseCPUList("3-1") == nil)
        #expect(PerfEventSampler.parseCPUList("x") == nil)
        #expect(PerfEventSampler.parseCPUList("") == nil)
    }
}
