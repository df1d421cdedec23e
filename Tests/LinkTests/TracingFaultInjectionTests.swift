import EBPFASM
import EBPFCollection
import EBPFSys
import Glibc
import Testing
import TestSupport

@testable import EBPFLink

/// BTF tracing programs loaded and attached with each system call failing in turn: the load
/// resolves the attach target (vmlinux BTF, a module's BTF object, a loaded program's BTF), then
/// `BPF_LINK_CREATE` or `BPF_RAW_TRACEPOINT_OPEN` attaches. A typed error naming the errno, no
/// descriptor left open. The BTF kinds run in the VM tier (the host's lockdown refuses tracing
/// loads); raw tracepoints run on the host too. Each sweep loads one small program, so a sweep
/// takes a few seconds under emulation.
@Suite(
    "Tracing fault injection", .serialized, .checksFileDescriptorLeaks,
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN for tracing programs"))
struct TracingFaultInjectionTests {
    /// One tracing program kind: what it is loaded as and how it attaches.
    struct Kind: Sendable, CustomTestStringConvertible {
        var name: String
        var type: ProgramType
        var attachType: AttachType
        var target: String
        /// fexit and fmod_ret take fentry's path through the loader and the attach (only the
        /// attach type differs): one errno each keeps the sweep to a few seconds under emulation.
        var errnos: [Errno] = FaultInjection.defaultErrnos
        var testDescription: String { "\(name) \(target)" }
    }

    static let btfKinds: [Kind] = [
        Kind(name: "fentry", type: .tracing, attachType: .traceFEntry, target: "__task_pid_nr_ns"),
        Kind(name: "fexit", type: .tracing, attachType: .traceFExit, target: "__task_pid_nr_ns", errnos: [.notPermitted]),
        Kind(name: "fmod_ret", type: .tracing, attachType: .modifyReturn, target: "security_task_prctl", errnos: [.notPermitted]),
        Kind(name: "tp_btf", type: .tracing, attachType: .traceRawTp, target: "sys_enter"),
        Kind(name: "iter", type: .tracing, attachType: .traceIter, target: "task"),
    ]

    /// A failure is a ``LinkError`` or ``CollectionError`` naming the injected errno; `EINTR` on
    /// bpf(2) is retried by the choke point and never fails the operation.
    static func check(_ outcome: FaultInjection.Outcome, sourceLocation: SourceLocation = #_sourceLocation) {
        outcome.expectInterruptRetried(where: { if case .bpf = $0 { true } else { false } }, sourceLocation: sourceLocation)
        guard case .failure(let error) = outcome.result else { return }
        guard error is LinkError || error is CollectionError else {
            Issue.record("\(outcome.fault): threw \(type(of: error)): \(error)", sourceLocation: sourceLocation)
            return
        }
        let text = String(describing: error)
        #expect(text.contains(outcome.fault.errno.description), "\(outcome.fault): \(text)", sourceLocation: sourceLocation)
    }

    /// A collection of one program of `kind` that returns 0.
    static func spec(_ kind: Kind) throws -> CollectionSpec {
        let program = ProgramSpec(
            name: "i16_\(kind.name)", sectionName: "\(kind.name)/\(kind.target)", type: kind.type, attachType: kind.attachType,
            attachTarget: kind.target, instructions: try ProgramBuilder { Instruction.mov64(.r0, 0); Instruction.exit() }.build())
        return CollectionSpec(programs: [program.name: program])
    }

    /// The link for `program` of `kind`: an iterator for iter, a tracing link otherwise.
    static func attach(_ program: Program, kind: Kind) throws -> any Link {
        if kind.attachType == .traceIter { return try Iterator(program: program) }
        return try Tracing.attach(program: program)
    }

    /// Loads the collection and attaches its one program; the pair closes together.
    final class Attached {
        let collection: LoadedCollection
        let link: any Link

        init(_ spec: CollectionSpec, options: CollectionOptions = CollectionOptions(), attach: (Program) throws -> any Link) throws {
            collection = try LoadedCollection(spec: spec, options: options)
            do {
                guard let name = spec.programs.keys.first else { throw LinkError.invalidOption("no program") }
                link = try attach(try collection.program(name))
            } catch {
                collection.close()
                throw error
            }
        }

        func close() throws {
            defer { collection.close() }
            try link.close()
        }
    }

    static func sweep(
        _ spec: CollectionSpec, options: CollectionOptions = CollectionOptions(),
        errnos: [Errno] = FaultInjection.defaultErrnos, failable: @escaping FaultInjection.Failable = FaultInjection.everyCall,
        sourceLocation: SourceLocation = #_sourceLocation, attach: @escaping (Program) throws -> any Link
    ) async throws -> FaultInjection.Summary {
        try await FaultInjection.sweep(errnos: errnos, failable: failable, sourceLocation: sourceLocation) {
            try Attached(spec, options: options, attach: attach)
        } release: { attached in
            try attached.close()
        } check: { outcome in
            check(outcome, sourceLocation: sourceLocation)
        }
    }

    @Test("raw_tracepoint: load and attach, every call failing in turn")
    func rawTracepointSweep() async throws {
        let program = ProgramSpec(
            name: "i16_raw_tp", sectionName: "raw_tracepoint/sys_enter", type: .rawTracepoint, attachTarget: "sys_enter",
            instructions: try ProgramBuilder { Instruction.mov64(.r0, 0); Instruction.exit() }.build())
        let summary = try await Self.sweep(CollectionSpec(programs: [program.name: program])) {
            try RawTracepoint.attach(name: "sys_enter", program: $0)
        }
        #expect(summary.calls.contains(.bpf(.rawTracepointOpen)), "\(summary)")

        // A link's duplicate that fails names the errno (it was EBADF from adopting -1).
        let attached = try Attached(CollectionSpec(programs: [program.name: program])) {
            try RawTracepoint.attach(name: "sys_enter", program: $0)
        }
        defer { try? attached.close() }
        let link = try #require(attached.link as? RawLink)
        let duplicate = FaultInjection.run(failing: 0, with: .tooManyOpenFiles) { try link.duplicateDescriptor().relinquish() }
        #expect(duplicate.fault?.call == .duplicate)
        #expect {
            try duplicate.result.get()
        } throws: { error in
            guard case .system(_, let errno)? = error as? LinkError else { return false }
            return errno == .tooManyOpenFiles
        }
    }

    @Test("BTF tracing kinds: load and attach, every call failing in turn (VM tier)", .requires(.tracingPrograms), arguments: btfKinds)
    func btfSweep(kind: Kind) async throws {
        guard KernelFeature.tracingPrograms.check() else { return }
        let summary = try await Self.sweep(try Self.spec(kind), errnos: kind.errnos) { try Self.attach($0, kind: kind) }
        #expect(summary.calls.contains(.bpf(.progLoad)), "\(summary)")
        #expect(summary.calls.contains(.bpf(.linkCreate)), "\(summary)")
    }

    @Test("lsm: load and attach, every call failing in turn (VM tier)", .requires(.lsmPrograms))
    func lsmSweep() async throws {
        guard KernelFeature.lsmPrograms.check() else { return }
        let kind = Kind(name: "lsm", type: .lsm, attachType: .lsmMAC, target: "file_open")
        let summary = try await Self.sweep(try Self.spec(kind)) { try Tracing.attach(program: $0) }
        #expect(summary.calls.contains(.bpf(.linkCreate)), "\(summary)")
    }

    /// The target is in a module's BTF: the load finds the module's BTF object by walking the
    /// kernel's BTF ids (`BPF_BTF_GET_NEXT_ID`, `BPF_BTF_GET_FD_BY_ID`, `BPF_OBJ_GET_INFO_BY_FD`
    /// for each of some sixty objects in the VM). The first three calls of each kind fail in
    /// turn: the walk repeats the same three calls, and failing every repetition took 70 s on 6.1.
    @Test("fentry on a module function: every call failing in turn (VM tier)", .requires(.tracingPrograms), .requires(.moduleBTF))
    func moduleSweep() async throws {
        guard KernelFeature.tracingPrograms.check(), KernelFeature.moduleBTF.check() else { return }
        _ = try? runSubprocess("/sbin/modprobe", ["nf_conntrack"])
        let kind = Kind(name: "fentry", type: .tracing, attachType: .traceFEntry, target: "nf_conntrack:nf_conntrack_in")
        let summary = try await Self.sweep(try Self.spec(kind), failable: FaultInjection.firstCalls(3)) {
            try Tracing.attach(program: $0)
        }
        #expect(summary.calls.contains(.bpf(.btfGetFDByID)), "\(summary)")
    }

    /// fentry and freplace on a loaded program: the load reads the target's BTF by id.
    @Test("fentry and freplace on a BPF program: every call failing in turn (VM tier)", .requires(.tracingPrograms))
    func programTargetSweep() async throws {
        guard KernelFeature.tracingPrograms.check() else { return }
        let targets = try LoadedCollection(spec: try hostOrderSpec("tracing_target"))
        defer { targets.close() }
        let target = try targets.program("measure_packet")
        var tracers = try hostOrderSpec("tracing_bpf2bpf")
        tracers.programs = tracers.programs.filter { $0.key == "count_entry" }
        var options = CollectionOptions()
        options.attachTargetPrograms = ["count_entry": target]
        let summary = try await Self.sweep(tracers, options: options) { try Tracing.attach(program: $0) }
        #expect(summary.calls.contains(.bpf(.btfGetFDByID)), "\(summary)")

        // freplace: the target's own function, with its BTF, as an extension of it.
        var replacement = try hostOrderSpec("tracing_target")
        guard var extensionSpec = replacement.programs["measure_packet"] else {
            Issue.record("tracing_target has no measure_packet")
            return
        }
        extensionSpec.type = .ext
        extensionSpec.attachType = nil
        extensionSpec.attachTarget = "measure_packet"
        replacement.programs = ["measure_packet": extensionSpec]
        options.attachTargetPrograms = ["measure_packet": target]
        let replaced = try await Self.sweep(replacement, options: options) { try Tracing.attach(program: $0) }
        #expect(replaced.calls.contains(.bpf(.linkCreate)), "\(replaced)")
    }
}
