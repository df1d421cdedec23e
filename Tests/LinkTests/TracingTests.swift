import EBPFASM
import EBPFCollection
import EBPFSys
import Glibc
import Testing
import TestSupport

@testable import EBPFLink

@Suite(
    "BTF tracing programs (VM tier)", .serialized, .checksFileDescriptorLeaks, .requires(.tracingPrograms),
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN"))
struct TracingTests {
    /// Loads the counting program (only this thread) as fentry or fexit on `__task_pid_nr_ns`,
    /// which getpid(2) calls once (syscall wrappers such as `__x64_sys_getpid` have no BTF on 6.1).
    static func loadCounter(attachType: AttachType, map: borrowing FileDescriptor, thread: Int32) throws -> Program {
        let instructions = try ProgramBuilder {
            Instruction.callHelper(14)
            Instruction.mov32(.r0, .r0)
            Instruction.jumpIf(.r0, .notEqual, thread, label: "out")
            Instruction.store(0, to: .r10, offset: -4, size: .word)
            Instruction.mov64(.r2, .r10)
            Instruction.add64(.r2, -4)
            Instruction.loadMapPointer(.r1, fileDescriptor: map.rawValue)
            Instruction.callHelper(1)
            Instruction.jumpIf(.r0, .equal, 0, label: "out")
            Instruction.mov64(.r1, 1)
            Instruction.atomic(.add, .r1, on: .r0, size: .doubleWord)
            Label("out")
            Instruction.mov64(.r0, 0)
            Instruction.exit()
        }.build().encoded(byteOrder: .host)
        let target = "__task_pid_nr_ns"
        var attributes = ProgLoadAttr()
        attributes.progType = ProgramType.tracing.rawValue
        attributes.expectedAttachType = attachType.rawValue
        attributes.attachBTFID = try KernelBTF.functionID(named: target)
        attributes.insnCnt = UInt32(instructions.count / 8)
        let license = Array("GPL".utf8) + [0]
        let loaded = try instructions.withUnsafeBytes { code in
            try license.withUnsafeBytes { licenseBytes in
                attributes.insns = Sys.address(of: code.baseAddress)
                attributes.license = Sys.address(of: licenseBytes.baseAddress)
                return try Sys.progLoad(attributes).relinquishDescriptor()
            }
        }
        return try Program(adopting: FileDescriptor(adopting: loaded))
    }

    @Test("fentry and fexit count calls", arguments: [AttachType.traceFEntry, .traceFExit])
    func countsCalls(attachType: AttachType) throws {
        guard KernelFeature.tracingPrograms.check() else { return }
        let map = try Sys.createMap(type: 2, keySize: 4, valueSize: 8, maxEntries: 1)
        let program = try Self.loadCounter(attachType: attachType, map: map, thread: currentThreadID())
        let link = try Tracing.attach(program: program, attachType: attachType)
        callGetpid(times: 3)
        let bytes = try Sys.lookupElement(map: map, key: [0, 0, 0, 0], valueSize: 8)
        #expect(bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } == 3)
        #expect(try link.info().type == 2)  // BPF_LINK_TYPE_TRACING
        try link.close()
    }
}

@Suite(
    "tp_btf and LSM programs (VM tier)", .serialized, .checksFileDescriptorLeaks,
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN"))
struct BTFHookTests {
    /// `__NR_getpid` on x86-64.
    static let getpidSyscall: Int32 = 39

    @Test(.requires(.tracingPrograms)) func tpBTFCountsSyscallEntries() throws {
        guard KernelFeature.tracingPrograms.check() else { return }
        // sys_enter(struct pt_regs *regs, long id): the second argument is the syscall number.
        let counter = try Counter(
            type: .tracing, expectedAttachType: .traceRawTp, onlyThread: currentThreadID(),
            contextWord: (offset: 8, value: Self.getpidSyscall),
            attachBTFID: try KernelBTF.typeID(named: "btf_trace_sys_enter", kind: KernelBTF.typedefKind))
        #expect(throws: LinkError.self) { try Tracing.attach(program: counter.program) }  // which attach type?
        let link = try Tracing.attach(program: counter.program, attachType: .traceRawTp)
        callGetpid(times: 4)
        #expect(try counter.count() == 4)
        let info = try link.info()
        #expect(info.type == 1)  // BPF_LINK_TYPE_RAW_TRACEPOINT: tp_btf goes through the raw tracepoint link
        try link.close()
        callGetpid(times: 2)
        #expect(try counter.count() == 4)
    }

    @Test(.requires(.lsmPrograms)) func lsmCountsFileOpens() throws {
        guard KernelFeature.lsmPrograms.check() else { return }
        let counter = try Counter(
            type: .lsm, expectedAttachType: .lsmMAC, onlyThread: currentThreadID(),
            attachBTFID: try KernelBTF.functionID(named: "bpf_lsm_file_open"))
        let link = try Tracing.attach(program: counter.program)
        for _ in 0..<3 {
            let descriptor = open("/dev/null", O_RDONLY | O_CLOEXEC)
            #expect(descriptor >= 0, "the LSM program returns 0 and allows the open")
            close(descriptor)
        }
        #expect(try counter.count() == 3)
        #expect(try link.info().extra(as: TracingLinkInfo.self).attachType == AttachType.lsmMAC.rawValue)
        try link.close()
    }
}

extension LoadedProgram {
    /// The raw descriptor, handed to the caller (closures cannot return noncopyable values).
    consuming func relinquishDescriptor() -> Int32 {
        takeDescriptor().relinquish()
    }
}
