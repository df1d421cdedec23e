import EBPFCollection
import EBPFSys
import Glibc
import Testing
import TestSupport

@testable import EBPFLink

@Suite("kprobe helpers")
struct KprobeHelperTests {
    @Test func syscallsAreRetriedWithTheArchPrefix() {
        #if arch(x86_64)
            #expect(Kprobe.candidateSymbols("sys_execve") == ["sys_execve", "__x64_sys_execve"])
        #endif
        #expect(Kprobe.candidateSymbols("do_sys_open") == ["do_sys_open"])
    }

    @Test func pmuFormatBits() {
        #expect(ProbePMU.firstConfigBit(ofFormat: "config:0\n") == 0)
        #expect(ProbePMU.firstConfigBit(ofFormat: "config:32-63\n") == 32)
        #expect(ProbePMU.firstConfigBit(ofFormat: "config1:0-63") == nil)
        #expect(ProbePMU.firstConfigBit(ofFormat: "config:64") == nil)
        #expect(ProbePMU.firstConfigBit(ofFormat: "") == nil)
    }

    @Test func eventNamesAreUniqueIdentifiers() throws {
        let first = TracefsProbeEvent.uniqueName(base: TracefsProbeEvent.sanitize("foo.isra.0"))
        let second = TracefsProbeEvent.uniqueName(base: TracefsProbeEvent.sanitize("foo.isra.0"))
        #expect(first != second)
        #expect(first.hasPrefix("foo_isra_0_"))
        #expect(TracefsProbeEvent.sanitize("9lives") == "_9lives")
        let long = TracefsProbeEvent.uniqueName(base: String(repeating: "a", count: 200))
        #expect(long.utf8.count <= TracefsProbeEvent.maximumNameLength)
        #expect(throws: LinkError.self) { try TracefsProbeEvent.validateName("bad/group", what: "group prefix") }
        #expect(throws: LinkError.self) { try TracefsProbeEvent.validateName("", what: "group prefix") }
        try TracefsProbeEvent.validateName("my_group1", what: "group prefix")
    }

    @Test func perfEventAttrHasTheKernelsLayout() {
        #expect(MemoryLayout<PerfEventAttr>.size == 136)
        #expect(MemoryLayout<PerfEventAttr>.offset(of: \.config1) == 56)
        #expect(MemoryLayout<PerfEventAttr>.offset(of: \.config2) == 64)
        #expect(MemoryLayout<PerfEventAttr>.offset(of: \.flags) == 40)
        #expect(MemoryLayout<PerfEventAttr>.offset(of: \.wakeupEvents) == 48)
        #expect(MemoryLayout<PerfEventAttr>.offset(of: \.clockID) == 92)
        #expect(MemoryLayout<PerfEventAttr>.offset(of: \.config3) == 128)
    }
}

@Suite(
    "kprobes where the kernel has none (root)", .checksFileDescriptorLeaks, .lacks(.kprobes),
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN"))
struct KprobeNotSupportedTests {
    @Test("kprobe attach says CONFIG_KPROBES is missing", arguments: [false, true])
    func notSupported(forceTracefs: Bool) throws {
        let program = try trivialProgram(type: .kprobe)
        var options = ProbeOptions()
        options.forceTracefs = forceTracefs
        for isReturnProbe in [false, true] {
            #expect {
                try Kprobe(symbol: "sys_getpid", program: program, isReturnProbe: isReturnProbe, options: options)
            } throws: { error in
                guard case LinkError.notSupported(let feature, let requirement, _) = error else { return false }
                return feature == "kprobes" && requirement == "CONFIG_KPROBES"
                    && "\(error)".contains("CONFIG_KPROBES")
            }
        }
    }
}

/// Symbols that would change the meaning of the `kprobe_events` line are refused before any
/// tracefs write or perf_event_open (the old check let tabs, `\r`, `%` and `=` through).
@Suite("kprobe symbol validation", .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
struct KprobeSymbolValidationTests {
    @Test(arguments: ["vfs\tread", "vfs_read\r", "vfs%read", "vfs=read", "1vfs_read", ".vfs", "", "vfs read", "mod:vfs"])
    func hostileSymbolIsRefused(symbol: String) throws {
        let program = try trivialProgram(type: .kprobe)
        for forceTracefs in [false, true] {
            var options = ProbeOptions()
            options.forceTracefs = forceTracefs
            #expect {
                try Kprobe(symbol: symbol, program: program, options: options)
            } throws: { error in
                guard case LinkError.invalidName(let name, _) = error else { return false }
                return name == symbol
            }
        }
    }

    @Test func compilerClonesAreValidSymbols() throws {
        try TracefsProbeEvent.validateKernelSymbol("tcp_v4_connect.cold")
        try TracefsProbeEvent.validateKernelSymbol("_do_fork")
    }
}

@Suite(
    "kprobes (VM tier)", .serialized, .checksFileDescriptorLeaks, .requires(.kprobes),
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN"))
struct KprobeTests {
    init() {
        if !Tracefs.isMounted(at: "/sys/kernel/tracing") {
            _ = mount("nodev", "/sys/kernel/tracing", "tracefs", 0, nil)
        }
    }

    /// A child that, once let go, execs `times` times (`env` exec'ing `env` ... exec'ing `/bin/true`,
    /// one process id throughout), reports, and exits. Probes on `sys_execve` see every exec on the
    /// machine, and other suites' children run at the same time: counters filter on `child.pid`.
    static func execingChild(times: Int) throws -> HeldChild {
        let chain = Array(repeating: "/usr/bin/env", count: times - 1) + ["/bin/sh -c 'echo; read go; exit 0'"]
        return try HeldChild(script: "read go; exec " + chain.joined(separator: " "))
    }

    /// Lets `child` run its execs and waits until they are done.
    static func runExecs(of child: borrowing HeldChild) throws {
        try child.proceed()
        try child.awaitLine()
    }

    @Test("a kprobe on sys_execve counts execs", arguments: [false, true])
    func countsExecs(throughTracefs: Bool) throws {
        guard KernelFeature.kprobes.check() else { return }
        // Three execs while attached (sh to env, env to env, env to sh), one after the close.
        let child = try HeldChild(script: "read go; exec /usr/bin/env /usr/bin/env /bin/sh -c 'echo; read go; exec /bin/true'")
        let counter = try Counter(type: .kprobe, onlyProcess: child.pid)
        var options = ProbeOptions()
        options.forceTracefs = throughTracefs
        options.groupPrefix = "swiftebpf_test"
        let probe = try Kprobe(symbol: "sys_execve", program: counter.program, options: options)
        #expect(probe.usesTracefs == throughTracefs)
        #expect(probe.symbol.hasSuffix("sys_execve"))
        try Self.runExecs(of: child)
        #expect(try counter.count() == 3)
        try probe.close()
        try child.proceed()
        #expect(try child.wait() == 0)
        #expect(try counter.count() == 3)
        #expect(!(try Tracefs.probeEvents(.kprobe).contains { $0.contains("swiftebpf_test") }), "stale kprobe event")
    }

    @Test("a kretprobe counts returns, with and without maxactive", arguments: [0, 16])
    func kretprobe(maxActive: Int) throws {
        let child = try Self.execingChild(times: 2)
        let counter = try Counter(type: .kprobe, onlyProcess: child.pid)
        var options = ProbeOptions()
        options.maxActive = maxActive
        options.groupPrefix = "swiftebpf_test"
        let probe = try Kprobe(symbol: "sys_execve", program: counter.program, isReturnProbe: true, options: options)
        #expect(probe.usesTracefs == (maxActive > 0))
        try Self.runExecs(of: child)
        #expect(try counter.count() == 2)
        #expect(try child.wait() == 0)
        try probe.close()
        #expect(try Tracefs.probeEvents(.kprobe).isEmpty || !(try Tracefs.probeEvents(.kprobe).contains { $0.contains("swiftebpf_test") }))
    }

    @Test func unknownSymbolIsNamed() throws {
        let program = try trivialProgram(type: .kprobe)
        for forceTracefs in [false, true] {
            var options = ProbeOptions()
            options.forceTracefs = forceTracefs
            options.groupPrefix = "swiftebpf_test"
            #expect {
                try Kprobe(symbol: "no_such_kernel_function_xyz", program: program, options: options)
            } throws: { error in
                if case LinkError.kernelSymbolNotFound("no_such_kernel_function_xyz", _) = error { return true }
                return false
            }
        }
        #expect(!(try Tracefs.probeEvents(.kprobe).contains { $0.contains("swiftebpf_test") }))
    }

    @Test func cookieReachesTheProgram() throws {
        try #require(Features.hasPerfEventLink, "bpf cookies on perf events need Linux 5.15; both test kernels have it")
        let child = try Self.execingChild(times: 2)
        let counter = try Counter(type: .kprobe, onlyProcess: child.pid, addingCookie: true)
        var options = ProbeOptions()
        options.cookie = 42
        let probe = try Kprobe(symbol: "sys_execve", program: counter.program, options: options)
        #expect(probe.usesBPFLink)
        try Self.runExecs(of: child)
        #expect(try counter.count() == 84)
        #expect(try child.wait() == 0)
        #expect(try probe.info().progID != 0)
        try probe.close()
    }
}

@Suite(
    "kprobe.multi and kprobe.session without CONFIG_FPROBE (root)", .checksFileDescriptorLeaks, .lacks(.kprobeMulti),
    .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
struct KprobeMultiNotSupportedTests {
    @Test(arguments: [KprobeMulti.Mode.entry, .return, .session])
    func notSupportedNamesTheConfigOption(mode: KprobeMulti.Mode) throws {
        let attachType: AttachType = mode == .session ? .traceKprobeSession : .traceKprobeMulti
        let program = try trivialProgram(type: .kprobe, expectedAttachType: attachType)
        #expect {
            try KprobeMulti.attach(symbols: ["vfs_read", "vfs_write"], program: program, mode: mode, cookies: [1, 2])
        } throws: { error in
            guard case LinkError.notSupported(let feature, let requirement, _) = error else { return false }
            return feature.hasPrefix("kprobe.") && requirement.contains("CONFIG_FPROBE")
        }
    }

    @Test func badArgumentsAreRefusedBeforeTheKernel() throws {
        let program = try trivialProgram(type: .kprobe, expectedAttachType: .traceKprobeMulti)
        #expect(throws: LinkError.self) { try KprobeMulti.attach(symbols: [], program: program) }
        #expect(throws: LinkError.self) { try KprobeMulti.attach(symbols: ["a"], program: program, cookies: [1, 2]) }
        let socketFilter = try trivialProgram(type: .socketFilter)
        #expect {
            try KprobeMulti.attach(symbols: ["vfs_read"], program: socketFilter)
        } throws: { error in
            if case LinkError.wrongProgramType = error { return true }
            return false
        }
    }
}
