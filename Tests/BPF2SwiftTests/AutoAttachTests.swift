import EBPF
import EBPFSys
import Glibc
import Testing
import TestSupport

@testable import BPF2SwiftGenerator

/// The uprobe of `autoattach.bpf.c` (`SEC("uprobe//proc/self/exe:swift_ebpf_autoattach_target")`)
/// sits on this function of the test binary, whose symbol has that name (`@_cdecl` would only name
/// a C thunk that Swift callers do not go through).
@_silgen_name("swift_ebpf_autoattach_target")
@inline(never)
func swiftEBPFAutoattachTarget(_ value: Int32) -> Int32 { value &+ 1 }

/// The calling thread's id, which the programs compare with `target_tid`. Glibc's module does not
/// export gettid(); /proc/thread-self links to "<pid>/task/<tid>".
func currentThreadID() throws -> UInt32 {
    var buffer = [CChar](repeating: 0, count: 64)
    let length = readlink("/proc/thread-self", &buffer, buffer.count - 1)
    let text = String(decoding: buffer[0..<max(length, 0)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return try #require(text.split(separator: "/").last.flatMap { UInt32($0) }, "readlink /proc/thread-self gave \(text)")
}

/// `attachAll()` on generated objects: programs attach where their section names say, and the
/// event struct used only through a ring buffer reservation is a generated type the records
/// decode into.
@Suite(
    "attachAll and ring buffer events", .serialized, .checksFileDescriptorLeaks,
    .enabled(if: Privileges.canAdminister, "needs root (CAP_SYS_ADMIN) to attach"))
struct AutoAttachTests {
    init() throws {
        _ = try Tracefs.findOrMount()
    }

    @Test("attachAll with every call failing in turn closes the links it made")
    func attachAllFaultSweep() async throws {
        var spec = try AutoattachSpec()
        try spec.set(targetTid: try currentThreadID())
        let objects = try spec.load()
        defer { try? objects.close() }
        let summary = try await FaultInjection.sweep {
            try objects.attachAll()
        } release: { links in
            try links.close()
        } check: { outcome in
            outcome.expectInterruptRetried()
            if case .failure(let error) = outcome.result {
                #expect(error is LinkError, "\(outcome.fault): threw \(type(of: error)): \(error)")
            }
        }
        // The tracepoint's and the uprobe's perf events.
        #expect(summary.calls.filter { $0 == .perfEventOpen }.count == 2, "\(summary)")
    }

    @Test func attachesTheTracepointAndUprobeAndSkipsXDP() throws {
        let thread = try currentThreadID()
        var spec = try AutoattachSpec()
        try spec.set(targetTid: thread)
        #expect(try spec.targetTid == thread)
        let objects = try spec.load()
        defer { try? objects.close() }
        let reader = try RingBufferReader(objects.events)
        defer { reader.close() }

        let links = try objects.attachAll()
        #expect(links.links.map(\.name) == ["count_getppid", "count_target_calls"])
        #expect(links[program: "count_getppid"] is Tracepoint)
        #expect(links[program: "count_target_calls"] is Uprobe)
        #expect(links.skipped.map(\.program) == ["pass_packets"])
        #expect(links.skipped.first?.reason.contains("needs an attach point") == true)

        for _ in 0..<5 { _ = getppid() }
        var sum: Int32 = 0
        for value in 0..<3 { sum &+= swiftEBPFAutoattachTarget(Int32(value)) }
        #expect(sum == 6)
        #expect(try objects.tracepointHits.get(as: UInt64.self) == 5)
        #expect(try objects.uprobeHits.get(as: UInt64.self) == 3)

        var events: [AutoattachTypes.event] = []
        _ = try reader.consume { record in
            if let event = record.load(as: AutoattachTypes.event.self) { events.append(event) }
        }
        #expect(events.filter { $0.kind == .EVENT_TRACEPOINT }.map(\.sequence) == [1, 2, 3, 4, 5])
        #expect(events.filter { $0.kind == .EVENT_UPROBE }.map(\.sequence) == [1, 2, 3])
        #expect(events.allSatisfy { $0.tid == thread })
        // The thread's name as the kernel has it (comm), through the generated String accessor.
        let comm = String(decoding: try Files.read("/proc/self/task/\(thread)/comm").dropLast(), as: UTF8.self)
        #expect(!comm.isEmpty)
        #expect(events.allSatisfy { $0.commString == comm }, "\(events.map(\.commString)) vs \(comm)")

        try links.close()
        #expect(links.isClosed)
        _ = getppid()
        _ = swiftEBPFAutoattachTarget(0)
        #expect(try objects.tracepointHits.get(as: UInt64.self) == 5)
        #expect(try objects.uprobeHits.get(as: UInt64.self) == 3)
    }

    @Test func sectionNamesGiveTheirTargets() {
        #expect(AutoAttach.target(forSection: "tp/sched/sched_switch") == .tracepoint(group: "sched", name: "sched_switch"))
        #expect(AutoAttach.target(forSection: "raw_tp.w/sys_enter") == .rawTracepoint(name: "sys_enter"))
        #expect(AutoAttach.target(forSection: "fentry.s/do_unlinkat") == .tracing)
        #expect(AutoAttach.target(forSection: "kprobe/do_unlinkat+0x10") == .kprobe(symbol: "do_unlinkat", offset: 16, isReturnProbe: false))
        #expect(AutoAttach.target(forSection: "kretprobe/do_unlinkat") == .kprobe(symbol: "do_unlinkat", offset: 0, isReturnProbe: true))
        #expect(AutoAttach.target(forSection: "kretsyscall/getpgid") == .syscall(name: "getpgid", isReturnProbe: true))
        #expect(
            AutoAttach.target(forSection: "uretprobe.s//usr/lib/libc.so.6:malloc+4")
                == .uprobe(path: "/usr/lib/libc.so.6", symbol: "malloc", offset: 4, isReturnProbe: true))
        #expect(
            AutoAttach.target(forSection: "uprobe//bin/true:0x1040")
                == .uprobe(path: "/bin/true", symbol: nil, offset: 0x1040, isReturnProbe: false))
        #expect(AutoAttach.target(forSection: "iter/task") == .iterator)
        for section in ["kprobe", "tp/sched", "uprobe", "kprobe/f+zz", "kretprobe/f+8", "uprobe//bin/true", "xdp", "tc", "cgroup/skb", "usdt/x:y:z"] {
            guard case .skipped = AutoAttach.target(forSection: section) else {
                Issue.record("\(section) should be skipped")
                continue
            }
        }
    }
}

/// `attachAll()` with kprobes, in the VM tier: a ksyscall resolved to the architecture's syscall
/// entry point and a kprobe on a kernel function.
@Suite(
    "attachAll with kprobes (VM tier)", .serialized, .checksFileDescriptorLeaks, .requires(.kprobes),
    .enabled(if: Privileges.canAdminister, "needs root (CAP_SYS_ADMIN) to attach"))
struct AutoAttachKprobeTests {
    init() throws {
        _ = try Tracefs.findOrMount()
    }

    @Test func attachesTheKsyscallAndKprobe() throws {
        guard KernelFeature.kprobes.check() else { return }
        let thread = try currentThreadID()
        var spec = try AutoattachKernelSpec()
        try spec.set(targetTid: thread)
        let objects = try spec.load()
        defer { try? objects.close() }
        let links = try objects.attachAll()
        defer { try? links.close() }
        #expect(links.links.map(\.name) == ["count_getpgid", "count_unlinks"])
        #expect(links.skipped.isEmpty)
        #if arch(x86_64)
            #expect((links[program: "count_getpgid"] as? Kprobe)?.symbol == "__x64_sys_getpgid")
        #endif

        for _ in 0..<4 { _ = getpgid(0) }
        for index in 0..<3 { _ = unlink("/tmp/swift-ebpf-issue15-absent-\(getpid())-\(index)") }
        #expect(try objects.ksyscallHits.get(as: UInt64.self) == 4)
        #expect(try objects.kprobeHits.get(as: UInt64.self) == 3)
        try links.close()
        _ = getpgid(0)
        #expect(try objects.ksyscallHits.get(as: UInt64.self) == 4)
    }
}
