import EBPFCollection
import EBPFSys
import Glibc

/// A uprobe or uretprobe: runs a `BPF_PROG_TYPE_KPROBE` program when a function in an executable
/// or shared library is entered (or returns), in every process or in one.
///
/// Uses the `uprobe` perf PMU (Linux 4.17) and falls back to tracefs `uprobe_events`
/// (``ProbeOptions/forceTracefs`` selects that path). Requires `CONFIG_UPROBE_EVENTS`.
///
/// ```swift
/// let bash = try Executable(path: "/bin/bash")
/// let probe = try Uprobe(executable: bash, symbol: "readline", program: program)
/// ```
public final class Uprobe: Link {
    let state: PerfEventLinkState
    /// The probed file.
    public let path: String
    /// The file offset probed.
    public let offset: UInt64
    /// Whether this is a uretprobe.
    public let isReturnProbe: Bool

    /// Attaches to function `symbol` of `executable` (plus ``ProbeOptions/offset`` bytes).
    public convenience init(
        executable: Executable, symbol: String, program: Program, isReturnProbe: Bool = false, options: ProbeOptions = ProbeOptions()
    ) throws(LinkError) {
        let start = try executable.offset(of: symbol)
        let (offset, overflow) = start.addingReportingOverflow(options.offset)
        guard !overflow else { throw .invalidOption("offset \(options.offset) past \(symbol) overflows") }
        try self.init(
            executable: executable, fileOffset: offset, label: symbol, program: program,
            isReturnProbe: isReturnProbe, options: options)
    }

    /// Attaches at file offset `fileOffset` of `executable` (``ProbeOptions/offset`` is ignored).
    public init(
        executable: Executable, fileOffset: UInt64, label: String? = nil,
        program: Program, isReturnProbe: Bool = false,
        options: ProbeOptions = ProbeOptions()
    ) throws(LinkError) {
        let name = label ?? "0x\(String(fileOffset, radix: 16))"
        let hook = "\(isReturnProbe ? "uretprobe" : "uprobe") \(executable.path):\(name)"
        guard program.type == .kprobe else {
            throw .wrongProgramType(hook: hook, expected: [.kprobe], actual: program.type)
        }
        if options.maxActive != 0 { throw .invalidOption("maxActive applies to kretprobes only (\(hook))") }
        if let pid = options.pid, pid <= 0 { throw .invalidOption("pid \(pid) is not a process id") }
        let pid = options.pid ?? -1
        var perfEvent: FileDescriptor? = nil
        var tracefsEvent: TracefsProbeEvent? = nil
        if let pmu = ProbePMU.find(.uprobe), !options.forceTracefs {
            perfEvent = try Uprobe.openPMUEvent(
                pmu: pmu, path: executable.path, offset: fileOffset, isReturnProbe: isReturnProbe,
                referenceCounterOffset: options.referenceCounterOffset, pid: pid, hook: hook)
        } else {
            // Forced or without the uprobe PMU (before Linux 4.17): the path goes into a tracefs line.
            try TracefsProbeEvent.validateProbePath(executable.path)
            var definition = "\(executable.path):0x\(String(fileOffset, radix: 16))"
            if options.referenceCounterOffset != 0 {
                definition += "(0x\(String(options.referenceCounterOffset, radix: 16)))"
            }
            let event = try TracefsProbeEvent.create(
                kind: .uprobe, groupPrefix: options.groupPrefix, baseName: name, definition: definition,
                returnProbe: isReturnProbe)
            perfEvent = try openTracepointEvent(id: event.id, pid: pid, what: "uprobe tracefs event for \(hook)")
            tracefsEvent = consume event
        }
        guard let opened = perfEvent.take() else { throw .closed }
        var pending: OpenedProbeEvent? = OpenedProbeEvent(perfEvent: opened, tracefsEvent: tracefsEvent.take(), target: name)
        state = try Features.withProgram(program, [.kprobe], hook: hook) {
            (descriptor) throws(LinkError) -> PerfEventLinkState in
            guard let event = pending.take() else { throw .closed }
            let attachment = try PerfEventAttachment.attach(
                program: descriptor, perfEvent: event.perfEvent, tracefsEvent: event.tracefsEvent,
                cookie: options.cookie, hook: hook)
            return PerfEventLinkState(attachment, hook: hook)
        }
        path = executable.path
        offset = fileOffset
        self.isReturnProbe = isReturnProbe
    }

    public func close() throws(LinkError) { try state.close() }
    public var isClosed: Bool { state.isClosed }
    public func info() throws(LinkError) -> LinkInfo { try state.info() }
    /// Whether the event was created through tracefs rather than the `uprobe` PMU.
    public var usesTracefs: Bool { state.usesTracefs }
    /// The tracefs event (`group/name`) when ``usesTracefs``.
    public var tracefsEventName: String? { state.tracefsEventName }
    /// Whether the program is attached through a bpf link (Linux 5.15) rather than an ioctl.
    public var usesBPFLink: Bool { state.usesBPFLink }

    static func openPMUEvent(
        pmu: ProbePMU, path: String, offset: UInt64, isReturnProbe: Bool, referenceCounterOffset: UInt64,
        pid: Int32, hook: String
    ) throws(LinkError) -> FileDescriptor {
        var attributes = PerfEventAttr()
        attributes.type = pmu.type
        attributes.config = try pmu.config(isReturnProbe: isReturnProbe, hook: hook)
        if referenceCounterOffset != 0 {
            guard let shift = pmu.referenceCounterShift, shift > 0,
                referenceCounterOffset <= UInt64.max >> shift
            else {
                throw .notSupported(
                    feature: "uprobe ref_ctr_offset", requirement: "Linux 4.20",
                    detail: "the uprobe PMU has no format/ref_ctr_offset field, or the offset is too large for it")
            }
            attributes.config |= referenceCounterOffset << shift
        }
        attributes.config2 = offset
        attributes.samplePeriod = 1
        attributes.wakeupEvents = 1
        let pathCopy = CStringCopy(path)
        attributes.config1 = pathCopy.address
        do {
            return try PerfEvent.open(attributes, pid: pid, cpu: pid == -1 ? 0 : -1)
        } catch {
            throw .perfEventOpen(event: "uprobe PMU for \(hook)", errno: error)
        }
    }
}
