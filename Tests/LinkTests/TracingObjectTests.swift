import EBPFCollection
import EBPFELF
import EBPFSys
import Glibc
import Testing
import TestSupport

@testable import EBPFLink

/// A testdata object for this machine's byte order (little-endian x86-64 and arm64).
func hostOrderSpec(_ name: String) throws -> CollectionSpec {
    try CollectionSpec(elfFile: TestData.path("\(name)-el.o"))
}

/// libc's `prctl`, which Swift cannot call directly (it is variadic in C), through a pointer typed
/// with the five arguments the system call takes. Returns the result and `errno`.
private func callPrctl(option: Int32) -> (result: Int32, errno: Int32) {
    typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
    guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "prctl") else { return (-1, ENOSYS) }
    let prctl = unsafeBitCast(symbol, to: Prctl.self)
    errno = 0
    let result = prctl(option, 0, 0, 0, 0)
    return (result, result < 0 ? errno : 0)
}

@Suite(
    "fmod_ret and fexit on a kernel function (VM tier)", .serialized, .checksFileDescriptorLeaks,
    .requires(.tracingPrograms), .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN"))
struct ModifyReturnTests {
    /// A prctl option no kernel defines: prctl(2) fails with EINVAL unless the program answers.
    static let unknownOption: Int32 = 0x5357_4542
    static let answer: Int32 = 4242

    /// testdata/tracing_fmod_ret.c: `answer_prctl` (fmod_ret) and `record_prctl` (fexit) on
    /// `security_task_prctl`, for this thread and ``unknownOption`` only.
    @Test func fmodRetReplacesTheReturnValueUntilClosed() throws {
        guard KernelFeature.tracingPrograms.check() else { return }
        var spec = try hostOrderSpec("tracing_fmod_ret")
        try spec.setVariable("target_thread", to: UInt32(bitPattern: currentThreadID()))
        try spec.setVariable("target_option", to: Self.unknownOption)
        try spec.setVariable("answer", to: Self.answer)
        let collection = try LoadedCollection(spec: spec)
        defer { collection.close() }
        let modifier = try collection.program("answer_prctl")
        let observer = try collection.program("record_prctl")
        #expect(modifier.attachType == .modifyReturn)
        let exits = try collection.variable("exits")
        let lastReturn = try collection.variable("last_return")
        let refused = (result: Int32(-1), errno: EINVAL)

        #expect(callPrctl(option: Self.unknownOption) == refused)
        let observing = try Tracing.attach(program: observer)
        #expect(callPrctl(option: Self.unknownOption) == refused)
        #expect(try exits.get(as: UInt64.self) == 1)
        // No security module knows the option: security_task_prctl says -ENOSYS, and prctl(2)
        // goes on to its own (failing) switch.
        #expect(try lastReturn.get(as: Int64.self) == Int64(-ENOSYS))

        let modifying = try Tracing.attach(program: modifier)
        let info = try modifying.info()
        #expect(info.type == 2)  // BPF_LINK_TYPE_TRACING
        #expect(info.extra(as: TracingLinkInfo.self).attachType == AttachType.modifyReturn.rawValue)
        #expect(callPrctl(option: Self.unknownOption) == (Self.answer, 0), "the fmod_ret program's value is prctl's result")
        #expect(try exits.get(as: UInt64.self) == 2)
        #expect(try lastReturn.get(as: Int64.self) == Int64(Self.answer), "fexit sees the replaced return value")
        // Other options (and other threads) still reach the kernel's code.
        #expect(callPrctl(option: Self.unknownOption + 1) == refused)

        try modifying.close()
        #expect(callPrctl(option: Self.unknownOption) == refused, "the kernel function runs again once the link is closed")
        #expect(try exits.get(as: UInt64.self) == 3)
        #expect(try lastReturn.get(as: Int64.self) == Int64(-ENOSYS))
        try observing.close()
        #expect(callPrctl(option: Self.unknownOption) == refused)
        #expect(try exits.get(as: UInt64.self) == 3)
    }
}

@Suite(
    "fentry and fexit on a BPF program (VM tier)", .serialized, .checksFileDescriptorLeaks,
    .requires(.tracingPrograms), .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN"))
struct ProgramTracingTests {
    /// testdata/tracing_target.c's socket filter `measure_packet` returns the packet's length,
    /// which a test run counts without the 14-byte Ethernet header it pulls.
    static func measured(_ packet: [UInt8]) -> UInt32 { UInt32(packet.count - 14) }

    /// testdata/tracing_bpf2bpf.c's `count_entry` (fentry) and `record_exit` (fexit), loaded with
    /// the loaded `measure_packet` as their target, around test runs of the target.
    @Test func fentryAndFexitRunAroundTheTargetProgram() throws {
        guard KernelFeature.tracingPrograms.check() else { return }
        let targets = try LoadedCollection(spec: try hostOrderSpec("tracing_target"))
        defer { targets.close() }
        let target = try targets.program("measure_packet")
        var options = CollectionOptions()
        options.attachTargetPrograms = ["count_entry": target, "record_exit": target]
        let tracers = try LoadedCollection(spec: try hostOrderSpec("tracing_bpf2bpf"), options: options)
        defer { tracers.close() }
        let entries = try tracers.variable("entries")
        let exits = try tracers.variable("exits")
        let lastReturn = try tracers.variable("last_return")

        let packet = [UInt8](repeating: 0, count: 64)
        #expect(try target.testRun(data: packet).returnValue == Self.measured(packet))
        let entryLink = try Tracing.attach(program: try tracers.program("count_entry"))
        let exitLink = try Tracing.attach(program: try tracers.program("record_exit"))
        let targetID = try target.info().id
        for link in [entryLink, exitLink] {
            let extra = try link.info().extra(as: TracingLinkInfo.self)
            #expect(extra.targetObjID == targetID, "the link names the target program")
        }

        #expect(try target.testRun(data: packet, repeat: 3).returnValue == Self.measured(packet))
        #expect(try entries.get(as: UInt64.self) == 3)
        #expect(try exits.get(as: UInt64.self) == 3)
        #expect(try lastReturn.get(as: Int64.self) == Int64(Self.measured(packet)))
        let longer = [UInt8](repeating: 0, count: 100)
        #expect(try target.testRun(data: longer).returnValue == Self.measured(longer), "tracing leaves the result alone")
        #expect(try entries.get(as: UInt64.self) == 4)
        #expect(try lastReturn.get(as: Int64.self) == Int64(Self.measured(longer)), "fexit sees the target's return value")

        try entryLink.close()
        try exitLink.close()
        _ = try target.testRun(data: packet)
        #expect(try entries.get(as: UInt64.self) == 4, "closed links no longer run")
        #expect(try exits.get(as: UInt64.self) == 4)
    }

    @Test func fmodRetCannotTargetAProgram() throws {
        guard KernelFeature.tracingPrograms.check() else { return }
        let targets = try LoadedCollection(spec: try hostOrderSpec("tracing_target"))
        defer { targets.close() }
        var spec = try hostOrderSpec("tracing_bpf2bpf")
        spec.programs["count_entry"]?.attachType = .modifyReturn
        var options = CollectionOptions()
        options.attachTargetPrograms = ["count_entry": try targets.program("measure_packet")]
        // The kernel refuses to modify the return codes of BPF programs.
        #expect(throws: CollectionError.self) {
            try LoadedCollection(spec: spec, selection: CollectionSelection(programs: ["count_entry"]), options: options)
        }
    }
}
