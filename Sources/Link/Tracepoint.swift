import EBPFCollection
import EBPFSys
import Glibc

/// A tracepoint: runs a `BPF_PROG_TYPE_TRACEPOINT` program each time a static kernel tracepoint
/// (`group:name`, as listed under tracefs `events/`) fires. Requires tracefs to find the id.
///
/// ```swift
/// let link = try Tracepoint(group: "syscalls", name: "sys_enter_getpid", program: program)
/// ```
public final class Tracepoint: Link {
    let state: PerfEventLinkState
    public let group: String
    public let name: String

    /// Attaches to tracepoint `group:name`; `cookie` needs Linux 5.15.
    public init(
        group: String, name: String, program: Program, cookie: UInt64 = 0
    ) throws(LinkError) {
        let hook = "tracepoint \(group):\(name)"
        state = try Features.withProgram(program, [.tracepoint], hook: hook) {
            (descriptor) throws(LinkError) -> PerfEventLinkState in
            let id = try Tracefs.tracepointID(group: group, name: name)
            let event = try openTracepointEvent(id: id, pid: -1, what: hook)
            let attachment = try PerfEventAttachment.attach(
                program: descriptor, perfEvent: event, tracefsEvent: nil, cookie: cookie, hook: hook)
            return PerfEventLinkState(attachment, hook: hook)
        }
        self.group = group
        self.name = name
    }

    public func close() throws(LinkError) { try state.close() }
    public var isClosed: Bool { state.isClosed }
    public func info() throws(LinkError) -> LinkInfo { try state.info() }
}

/// Raw tracepoints: a `BPF_PROG_TYPE_RAW_TRACEPOINT` program on a tracepoint by name, with the
/// tracepoint's raw arguments and no tracefs involved (`BPF_RAW_TRACEPOINT_OPEN`, Linux 4.17).
public enum RawTracepoint {
    /// Attaches the program to raw tracepoint `name` (such as `sys_enter`) and returns the link.
    public static func attach(
        name: String, program: Program, cookie: UInt64 = 0
    ) throws(LinkError) -> RawLink {
        let hook = "raw tracepoint \(name)"
        return try Features.withProgram(program, [.rawTracepoint, .rawTracepointWritable], hook: hook) {
            (descriptor) throws(LinkError) -> RawLink in
            var attributes = RawTracepointOpenAttr()
            attributes.progFD = UInt32(bitPattern: descriptor)
            attributes.cookie = cookie
            let nameCopy = CStringCopy(name)
            attributes.name = nameCopy.address
            do throws(BPFSyscallError) {
                return RawLink(adopting: try Sys.rawTracepointOpen(attributes))
            } catch {
                if error.errno == .noSuchFileOrDirectory {
                    throw .tracepointNotFound(group: "raw", name: name)
                }
                throw .syscall(operation: "attach \(hook)", error: error)
            }
        }
    }
}

/// A `BPF_PROG_TYPE_PERF_EVENT` program on a sampling perf event: a software or hardware event on
/// every CPU, each sample running the program.
public final class PerfEventSampler: Link {
    private let states: [PerfEventLinkState]

    /// Opens the event on every online CPU with the given period (or frequency in Hz, when
    /// `frequency` is true) and attaches the program to each.
    ///
    /// ```swift
    /// let sampler = try PerfEventSampler(softwareEvent: .cpuClock, samplePeriod: 99, useFrequency: true, program: program)
    /// ```
    ///
    /// - Throws: ``LinkError/notSupported(feature:requirement:detail:)`` for a hardware event the
    ///   machine has no PMU for (`ENOENT`, `EOPNOTSUPP`; common in virtual machines), suggesting
    ///   a software event.
    public init(
        type: PerfEventType = .software, config: UInt64 = SoftwareEvent.cpuClock.rawValue,
        samplePeriod: UInt64, useFrequency: Bool = false, program: Program, cookie: UInt64 = 0
    ) throws(LinkError) {
        let hook = "perf event type \(type.rawValue) config \(config)"
        guard samplePeriod > 0 else { throw .invalidOption("the sample period (or frequency) must be above 0") }
        var attributes = PerfEventAttr()
        attributes.type = type.rawValue
        attributes.config = config
        attributes.samplePeriod = samplePeriod
        if useFrequency { attributes.flags.insert(.frequency) }
        let cpus = try PerfEventSampler.onlineCPUs()
        self.states = try Features.withProgram(program, [.perfEvent], hook: hook) {
            (descriptor) throws(LinkError) -> [PerfEventLinkState] in
            var states: [PerfEventLinkState] = []
            for cpu in cpus {
                let event: FileDescriptor
                do throws(Errno) {
                    event = try PerfEvent.open(attributes, pid: -1, cpu: cpu)
                } catch {
                    // No hardware PMU (or not this event): ENOENT from perf_event_open, or
                    // EOPNOTSUPP where the PMU cannot sample.
                    if type == .hardware, error == .noSuchFileOrDirectory || error == .notSupported {
                        throw .notSupported(
                            feature: "hardware perf event \(config)",
                            requirement: "a CPU performance monitoring unit the kernel exposes (virtual machines often have none)",
                            detail: "perf_event_open failed with \(error) on CPU \(cpu); sample a software event such as SoftwareEvent.cpuClock instead")
                    }
                    throw .perfEventOpen(event: "\(hook) on CPU \(cpu)", errno: error)
                }
                let attachment = try PerfEventAttachment.attach(
                    program: descriptor, perfEvent: event, tracefsEvent: nil, cookie: cookie,
                    hook: "\(hook) on CPU \(cpu)")
                states.append(PerfEventLinkState(attachment, hook: hook))
            }
            return states
        }
    }

    /// Samples software event `event` (`PERF_TYPE_SOFTWARE`) on every online CPU.
    public convenience init(
        softwareEvent event: SoftwareEvent, samplePeriod: UInt64, useFrequency: Bool = false, program: Program,
        cookie: UInt64 = 0
    ) throws(LinkError) {
        try self.init(
            type: .software, config: event.rawValue, samplePeriod: samplePeriod, useFrequency: useFrequency,
            program: program, cookie: cookie)
    }

    /// Samples hardware event `event` (`PERF_TYPE_HARDWARE`) on every online CPU.
    ///
    /// ```swift
    /// let sampler = try PerfEventSampler(hardwareEvent: .cpuCycles, samplePeriod: 1_000_000, program: program)
    /// ```
    public convenience init(
        hardwareEvent event: HardwareEvent, samplePeriod: UInt64, useFrequency: Bool = false, program: Program,
        cookie: UInt64 = 0
    ) throws(LinkError) {
        try self.init(
            type: .hardware, config: event.rawValue, samplePeriod: samplePeriod, useFrequency: useFrequency,
            program: program, cookie: cookie)
    }

    public func close() throws(LinkError) {
        var failure: LinkError?
        for state in states {
            do { try state.close() } catch { failure = failure ?? error }
        }
        if let failure { throw failure }
    }

    public var isClosed: Bool { states.allSatisfy(\.isClosed) }

    /// The first CPU's link.
    public func info() throws(LinkError) -> LinkInfo {
        guard let first = states.first else { throw .closed }
        return try first.info()
    }

    /// The CPUs listed in `/sys/devices/system/cpu/online` (`0-3,5`).
    static func onlineCPUs() throws(LinkError) -> [Int32] {
        let path = "/sys/devices/system/cpu/online"
        guard let text = Tracefs.readText(path) else { throw .tracefsRead(file: path, errno: Errno(rawValue: errno)) }
        guard let cpus = parseCPUList(text) else { throw .tracefsRead(file: path, errno: .invalidArgument) }
        return cpus
    }

    /// Parses a kernel CPU list such as `0-3,5`; nil when malformed.
    static func parseCPUList(_ text: String) -> [Int32]? {
        var result: [Int32] = []
        for part in text.trimmingCharacters().split(separator: ",") {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard bounds.count == 1 || bounds.count == 2, let low = Int32(bounds[0]),
                let high = bounds.count == 2 ? Int32(bounds[1]) : low, low >= 0, low <= high, high - low < 65536
            else { return nil }
            result.append(contentsOf: low...high)
        }
        return result.isEmpty ? nil : result
    }
}
