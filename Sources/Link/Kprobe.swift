import EBPFCollection
import EBPFSys
import Glibc

/// Options for kprobes and uprobes.
public struct ProbeOptions: Sendable {
    /// Bytes past the symbol's start at which to place the probe (entry probes only).
    public var offset: UInt64 = 0
    /// A value the program reads with `bpf_get_attach_cookie`. Requires Linux 5.15.
    public var cookie: UInt64 = 0
    /// How many concurrent calls a kretprobe can track (`maxactive`; 0 lets the kernel choose).
    /// Only tracefs can set it, so a non-zero value selects the tracefs path.
    public var maxActive: Int = 0
    /// The tracefs group of events created for the tracefs path (letters, digits and `_`).
    public var groupPrefix: String = TracefsProbeEvent.defaultGroupPrefix
    /// Skips the `kprobe`/`uprobe` PMU and creates the event through tracefs, as on kernels
    /// before 4.17. For tests of that path.
    public var forceTracefs = false
    /// Uprobes: only this process triggers the probe (nil: every process).
    public var pid: Int32?
    /// Uprobes: the file offset of the USDT semaphore the kernel increments while the probe is
    /// attached (`ref_ctr_offset`, Linux 4.20).
    public var referenceCounterOffset: UInt64 = 0

    public init() {}
}

/// A kprobe or kretprobe: runs a `BPF_PROG_TYPE_KPROBE` program when a kernel function is entered
/// (or returns).
///
/// Uses the `kprobe` perf PMU (Linux 4.17) with the symbol passed by pointer, and falls back to a
/// tracefs `kprobe_events` entry where the PMU is missing. A syscall named without its arch prefix
/// (`sys_execve`) is retried with it (`__x64_sys_execve`). Requires `CONFIG_KPROBES`.
///
/// ```swift
/// let probe = try Kprobe(symbol: "sys_execve", program: objects.kprobeExecve)
/// ```
public final class Kprobe: Link {
    let state: PerfEventLinkState
    /// The symbol the probe ended up on (with the arch prefix, where one was added).
    public let symbol: String
    /// Whether this is a kretprobe.
    public let isReturnProbe: Bool

    /// Attaches `program` (of type ``ProgramType/kprobe``) to `symbol` (a kretprobe with
    /// `isReturnProbe`).
    /// - Throws: ``LinkError/notSupported(feature:requirement:detail:)`` naming `CONFIG_KPROBES`
    ///   where the kernel has no kprobes; ``LinkError/kernelSymbolNotFound(symbol:tried:)``.
    public init(
        symbol: String, program: Program, isReturnProbe: Bool = false, options: ProbeOptions = ProbeOptions()
    ) throws(LinkError) {
        let hook = "\(isReturnProbe ? "kretprobe" : "kprobe") \(symbol)"
        guard program.type == .kprobe else {
            throw .wrongProgramType(hook: hook, expected: [.kprobe], actual: program.type)
        }
        if options.maxActive != 0 && !isReturnProbe {
            throw .invalidOption("maxActive applies to kretprobes only (\(hook))")
        }
        if options.maxActive < 0 { throw .invalidOption("maxActive \(options.maxActive) is negative") }
        if options.offset != 0 && isReturnProbe {
            throw .invalidOption("an offset applies to entry kprobes only (\(hook))")
        }
        try TracefsProbeEvent.validateKernelSymbol(symbol)
        let (state, chosen) = try Features.withProgram(program, [.kprobe], hook: hook) {
            (descriptor) throws(LinkError) -> (PerfEventLinkState, String) in
            let opened = try Kprobe.openEvent(symbol: symbol, isReturnProbe: isReturnProbe, options: options)
            let chosen = opened.target
            let attachment = try PerfEventAttachment.attach(
                program: descriptor, perfEvent: opened.perfEvent, tracefsEvent: opened.tracefsEvent,
                cookie: options.cookie, hook: hook)
            return (PerfEventLinkState(attachment, hook: hook), chosen)
        }
        self.state = state
        self.symbol = chosen
        self.isReturnProbe = isReturnProbe
    }

    public func close() throws(LinkError) { try state.close() }
    public var isClosed: Bool { state.isClosed }
    public func info() throws(LinkError) -> LinkInfo { try state.info() }
    /// Whether the event was created through tracefs rather than the `kprobe` PMU.
    public var usesTracefs: Bool { state.usesTracefs }
    /// Whether the program is attached through a bpf link (Linux 5.15) rather than an ioctl.
    public var usesBPFLink: Bool { state.usesBPFLink }

    /// The prefix this architecture's syscall entry points carry (`__x64_` on x86-64).
    static var syscallPrefix: String? {
        #if arch(x86_64)
            "__x64_"
        #elseif arch(arm64)
            "__arm64_"
        #elseif arch(s390x)
            "__s390x_"
        #elseif arch(riscv64)
            "__riscv_"
        #elseif arch(powerpc64) || arch(powerpc64le)
            "sys_"
        #else
            nil
        #endif
    }

    /// The names to try for `symbol`: itself, then the arch-prefixed syscall for `sys_*`.
    static func candidateSymbols(_ symbol: String) -> [String] {
        guard symbol.hasPrefix("sys_"), let prefix = syscallPrefix, prefix != "sys_" else { return [symbol] }
        return [symbol, prefix + symbol]
    }

    /// Whether a failure to create a probe means the symbol does not exist. Kernels return
    /// `ENOENT` for an unknown symbol; older ones `EINVAL`.
    static func meansSymbolMissing(_ errno: Errno) -> Bool {
        errno == .noSuchFileOrDirectory || errno == .invalidArgument
    }

    /// Whether `/proc/kallsyms` lists a symbol called `name` (also when the list cannot be read,
    /// so an unreadable list never turns an error into "symbol not found").
    static func kallsymsNames(_ name: String) -> Bool {
        guard let text = Tracefs.readText("/proc/kallsyms") else { return true }
        return text.contains(" \(name)\n") || text.contains(" \(name)\t")
    }

    /// Opens the perf event for the probe, through the PMU when there is one (`pmu`, a parameter
    /// for tests) and tracefs otherwise.
    static func openEvent(
        symbol: String, isReturnProbe: Bool, options: ProbeOptions, pmu: ProbePMU? = ProbePMU.find(.kprobe)
    ) throws(LinkError) -> OpenedProbeEvent {
        let candidates = candidateSymbols(symbol)
        if let pmu, !options.forceTracefs, options.maxActive == 0 {
            let config = try pmu.config(isReturnProbe: isReturnProbe, hook: "\(isReturnProbe ? "kretprobe" : "kprobe") \(symbol)")
            var lastErrno = Errno.noSuchFileOrDirectory
            for candidate in candidates {
                do {
                    return OpenedProbeEvent(
                        perfEvent: try openPMUEvent(pmu: pmu, symbol: candidate, config: config, offset: options.offset),
                        tracefsEvent: nil, target: candidate)
                } catch let error where meansSymbolMissing(error) {
                    lastErrno = error
                } catch {
                    throw .perfEventOpen(event: "kprobe PMU for \(candidate)", errno: error)
                }
            }
            if lastErrno == .noSuchFileOrDirectory { throw .kernelSymbolNotFound(symbol: symbol, tried: candidates) }
            throw .perfEventOpen(event: "kprobe PMU for \(candidates.joined(separator: " or "))", errno: lastErrno)
        }
        if pmu == nil {
            try requireKprobeEvents()
        }
        var lastError: LinkError = .kernelSymbolNotFound(symbol: symbol, tried: candidates)
        for candidate in candidates {
            let definition = options.offset == 0 ? candidate : "\(candidate)+\(options.offset)"
            let event: TracefsProbeEvent
            do {
                event = try TracefsProbeEvent.create(
                    kind: .kprobe, groupPrefix: options.groupPrefix, baseName: candidate, definition: definition,
                    returnProbe: isReturnProbe, maxActive: options.maxActive)
            } catch {
                if case .tracefsWrite(_, _, let errno) = error, meansSymbolMissing(errno) {
                    // Linux 6.1 answers an unknown symbol with ENOENT. Debian's 6.12 (6.12.118)
                    // rejects it while parsing the definition, and a parse error is EINVAL, the
                    // same as a malformed definition: kallsyms tells which it was.
                    if errno != .noSuchFileOrDirectory, kallsymsNames(candidate) { lastError = error }
                    continue
                }
                throw error
            }
            let perfEvent = try openTracepointEvent(id: event.id, pid: -1, what: "kprobe tracefs event for \(candidate)")
            return OpenedProbeEvent(perfEvent: perfEvent, tracefsEvent: event, target: candidate)
        }
        throw lastError
    }

    /// Throws the not-supported error naming `CONFIG_KPROBES` when tracefs shows no kprobe events
    /// (or cannot be checked) on a kernel that also lacks the PMU.
    static func requireKprobeEvents() throws(LinkError) {
        let noPMU = "no kprobe PMU in \(ProbePMU.devicesDirectory)"
        let tracefs: String
        do { tracefs = try Tracefs.find() } catch {
            throw .notSupported(
                feature: "kprobes", requirement: "CONFIG_KPROBES",
                detail: "\(noPMU), and tracefs is not mounted to check kprobe_events (\(error))")
        }
        guard access("\(tracefs)/kprobe_events", F_OK) == 0 else {
            throw .notSupported(
                feature: "kprobes", requirement: "CONFIG_KPROBES",
                detail: "\(noPMU) and no kprobe_events in \(tracefs)")
        }
    }

    static func openPMUEvent(pmu: ProbePMU, symbol: String, config: UInt64, offset: UInt64) throws(Errno) -> FileDescriptor {
        var attributes = PerfEventAttr()
        attributes.type = pmu.type
        attributes.config = config
        attributes.config2 = offset
        attributes.samplePeriod = 1
        attributes.wakeupEvents = 1
        let name = CStringCopy(symbol)
        attributes.config1 = name.address
        return try PerfEvent.open(attributes, pid: -1, cpu: 0)
    }
}

/// A perf event for a probe, the tracefs event it was opened on (if any), and what it probes.
struct OpenedProbeEvent: ~Copyable {
    var perfEvent: FileDescriptor
    var tracefsEvent: TracefsProbeEvent?
    var target: String
}

/// Opens a `PERF_TYPE_TRACEPOINT` perf event on tracefs event `id`. `pid` -1 means every process.
func openTracepointEvent(id: UInt64, pid: Int32, what: String) throws(LinkError) -> FileDescriptor {
    var attributes = PerfEventAttr()
    attributes.type = PerfEventType.tracepoint.rawValue
    attributes.config = id
    attributes.samplePeriod = 1
    attributes.wakeupEvents = 1
    do {
        return try PerfEvent.open(attributes, pid: pid, cpu: pid == -1 ? 0 : -1)
    } catch {
        throw .perfEventOpen(event: what, errno: error)
    }
}
