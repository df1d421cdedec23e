import EBPFCollection
import EBPFSys
import Glibc
import Testing
import TestSupport

@testable import EBPFLink

/// Probe attachment with each system call failing in turn (perf_event_open, the tracefs writes,
/// the bpf link or ioctls): a typed error, no descriptor left open, and no event left in
/// `uprobe_events` / `kprobe_events`.
@Suite(
    "Probe fault injection (root)", .serialized, .checksFileDescriptorLeaks,
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN for perf events and tracefs"))
struct ProbeFaultInjectionTests {
    init() throws {
        if !Tracefs.isMounted(at: "/sys/kernel/tracing") {
            _ = mount("nodev", "/sys/kernel/tracing", "tracefs", 0, nil)
        }
    }

    /// The group of every tracefs event these tests create: nothing else uses it.
    static let group = "issue16_faults"

    static func options(forceTracefs: Bool) -> ProbeOptions {
        var options = ProbeOptions()
        options.forceTracefs = forceTracefs
        options.groupPrefix = group
        return options
    }

    /// Lines of `kind`'s events file that belong to this suite's group.
    static func staleEvents(_ kind: ProbeKind) throws -> [String] {
        try Tracefs.probeEvents(kind).filter { $0.contains("\(group)/") }
    }

    /// A failure is a ``LinkError`` naming the injected errno; `EINTR` on a call the library
    /// retries does not fail the attachment; no event of the group is left in tracefs.
    static func check(
        _ outcome: FaultInjection.Outcome, kind: ProbeKind, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        switch outcome.result {
        case .success:
            break
        case .failure(let error):
            outcome.expectInterruptRetried(sourceLocation: sourceLocation)
            if let linkError = error as? LinkError {
                #expect(
                    linkError.description.contains(outcome.fault.errno.description), "\(outcome.fault): \(linkError)",
                    sourceLocation: sourceLocation)
            } else {
                Issue.record("\(outcome.fault): threw \(type(of: error)): \(error)", sourceLocation: sourceLocation)
            }
        }
        let stale = try staleEvents(kind)
        #expect(stale.isEmpty, "\(outcome.fault): stale \(kind.rawValue) events \(stale)", sourceLocation: sourceLocation)
    }

    @Test(
        "uprobe: every call failing in turn",
        arguments: [(tracefs: false, returnProbe: false), (true, false), (false, true), (true, true)])
    func uprobeSweep(tracefs: Bool, returnProbe: Bool) async throws {
        guard KernelFeature.uprobes.check() else { return }
        let target = try Executable(path: try UprobeTarget.faultInjectionCopy.get())
        let counter = try Counter(type: .kprobe)
        let options = Self.options(forceTracefs: tracefs)
        let program = counter.program
        let summary = try await FaultInjection.sweep {
            try Uprobe(executable: target, symbol: "counted", program: program, isReturnProbe: returnProbe, options: options)
        } release: { probe in
            #expect(probe.usesTracefs == tracefs)
            try probe.close()
        } check: { outcome in
            try Self.check(outcome, kind: .uprobe)
        }
        #expect(summary.calls.contains(.perfEventOpen), "\(summary)")
        if tracefs {
            // The event is written, and removed again on the way out.
            #expect(summary.calls.contains { if case .tracefsWrite = $0 { true } else { false } }, "\(summary)")
        }
        _ = try UprobeTarget.run(calls: 2, of: UprobeTarget.faultInjectionCopy)
        #expect(try counter.count() == 0, "a probe of a failed or closed attachment still ran")
    }

    @Test("uprobe.multi: every call failing in turn", .requires(.uprobeMulti))
    func uprobeMultiSweep() async throws {
        guard KernelFeature.uprobeMulti.check() else { return }
        let target = try Executable(path: try UprobeTarget.faultInjectionCopy.get())
        let counter = try Counter(type: .kprobe, expectedAttachType: .traceUprobeMulti)
        let program = counter.program
        let summary = try await FaultInjection.sweep {
            try UprobeMulti.attach(executable: target, symbols: ["counted", "main"], program: program)
        } release: { link in
            try link.close()
        } check: { outcome in
            try Self.check(outcome, kind: .uprobe)
        }
        #expect(summary.calls.contains(.bpf(.linkCreate)), "\(summary)")
    }

    @Test("kprobe: every call failing in turn (VM tier: the host has no kprobes)", .requires(.kprobes), arguments: [false, true])
    func kprobeSweep(tracefs: Bool) async throws {
        let counter = try Counter(type: .kprobe)
        let options = Self.options(forceTracefs: tracefs)
        let program = counter.program
        let summary = try await FaultInjection.sweep {
            try Kprobe(symbol: "sys_getpid", program: program, options: options)
        } release: { probe in
            try probe.close()
        } check: { outcome in
            try Self.check(outcome, kind: .kprobe)
        }
        #expect(summary.calls.contains(.perfEventOpen), "\(summary)")
    }

    @Test("kprobe.multi: every call failing in turn (VM tier, 6.12)", .requires(.kprobeMulti))
    func kprobeMultiSweep() async throws {
        let counter = try Counter(type: .kprobe, expectedAttachType: .traceKprobeMulti)
        let program = counter.program
        let summary = try await FaultInjection.sweep {
            try KprobeMulti.attach(symbols: [WatchedSyscalls.getppid, WatchedSyscalls.getpgid], program: program)
        } release: { link in
            try link.close()
        } check: { outcome in
            try Self.check(outcome, kind: .kprobe)
        }
        #expect(summary.calls.contains(.bpf(.linkCreate)), "\(summary)")
    }

    @Test("tracepoint: every call failing in turn")
    func tracepointSweep() async throws {
        let counter = try Counter(type: .tracepoint)
        let program = counter.program
        let summary = try await FaultInjection.sweep {
            try Tracepoint(group: "syscalls", name: "sys_enter_getpid", program: program)
        } release: { link in
            try link.close()
        } check: { outcome in
            try Self.check(outcome, kind: .uprobe)
        }
        #expect(summary.calls.contains(.perfEventOpen), "\(summary)")
    }

    @Test("perf event sampler: every call failing in turn, on each CPU")
    func samplerSweep() async throws {
        let counter = try Counter(type: .perfEvent)
        let program = counter.program
        let summary = try await FaultInjection.sweep {
            try PerfEventSampler(samplePeriod: 1_000_000, program: program)
        } release: { sampler in
            try sampler.close()
        } check: { outcome in
            try Self.check(outcome, kind: .uprobe)
        }
        let cpus = try PerfEventSampler.onlineCPUs().count
        #expect(summary.calls.filter { $0 == .perfEventOpen }.count == cpus, "\(summary)")
    }
}

extension ProbeFaultInjectionTests {
    @Test(
        "USDT: every call failing in turn leaves no instruction pointer in the map",
        .requires(.uprobes), .enabled(if: USDTTargets.canBuildProbesBinary, USDTTargets.probesBinarySkipReason),
        arguments: USDTTests.modes.filter { $0.object == "usdt" })
    func usdtSweep(mode: USDTTests.Mode) async throws {
        // Its header and compiler are there (the trait): a failed build fails the test.
        let binary = try USDTTargets.probesBinary.get()
        let collection = try USDTTests.load(mode)
        defer { collection.close() }
        let program = try collection.program("record_args")
        let pointers = try collection.map("__bpf_usdt_ip_to_spec_id")
        // Instruction-pointer lookup in a position-independent binary needs the process.
        let process = try WaitingProcess(binary, ["1", "2"])
        let options = USDTOptions(pid: process.pid, cookie: 0x16, specLookup: mode.lookup)
        let summary = try await FaultInjection.sweep {
            try USDT(path: binary, provider: "swiftebpf", name: "twelve", program: program, collection: collection, options: options)
        } release: { link in
            try link.close()
        } check: { outcome in
            try Self.check(outcome, kind: .uprobe)
            let left = try pointers.keys(UInt64.self)
            #expect(left.isEmpty, "\(outcome.fault): instruction pointers \(left) left in the map")
        }
        #expect(summary.calls.contains(.bpf(.mapUpdateElem)), "\(summary)")
        #expect(process.finish().status == 0)
    }
}
