import EBPFCollection
import EBPFSys
import Glibc
import Synchronization

/// A program attached to a perf event, and everything that keeps it attached: the perf event,
/// the bpf link over it (Linux 5.15 and later), and the tracefs event it was opened on (for the
/// tracefs fallback). Closing releases them in the order the kernel needs: link, perf event,
/// then the tracefs event, which the kernel refuses to remove while a perf event uses it.
struct PerfEventAttachment: ~Copyable, Sendable {
    private var bpfLink: FileDescriptor?
    private var perfEvent: FileDescriptor?
    private var tracefsEvent: TracefsProbeEvent?

    /// Whether the program was attached with `BPF_LINK_CREATE` rather than `PERF_EVENT_IOC_SET_BPF`.
    var usesBPFLink: Bool { bpfLink != nil }

    /// Whether the event was created through tracefs rather than a PMU.
    var usesTracefs: Bool { tracefsEventName != nil }

    /// The tracefs event's group and name, for tests that look for it.
    let tracefsEventName: String?

    private init(perfEvent: consuming FileDescriptor, tracefsEvent: consuming TracefsProbeEvent?) {
        switch tracefsEvent {
        case .some(let event): tracefsEventName = "\(event.group)/\(event.name)"
        case .none: tracefsEventName = nil
        }
        self.bpfLink = nil
        self.perfEvent = consume perfEvent
        self.tracefsEvent = tracefsEvent
    }

    /// Attaches `program` to `perfEvent`. Takes ownership of the event (and `tracefsEvent`) even
    /// when it throws; both are released again then.
    static func attach(
        program: Int32, perfEvent: consuming FileDescriptor,
        tracefsEvent: consuming TracefsProbeEvent?, cookie: UInt64, hook: String
    ) throws(LinkError) -> PerfEventAttachment {
        var attachment = PerfEventAttachment(perfEvent: perfEvent, tracefsEvent: tracefsEvent)
        do {
            try attachment.attach(program: program, cookie: cookie, hook: hook)
        } catch {
            attachment.close()
            throw error
        }
        return attachment
    }

    private mutating func attach(program: Int32, cookie: UInt64, hook: String) throws(LinkError) {
        guard let eventNumber = perfEvent?.rawValue else { throw .closed }
        if try Features.perfEventLinkSupport() {
            var attributes = LinkCreatePerfEventAttr()
            attributes.progFD = UInt32(bitPattern: program)
            attributes.targetFD = UInt32(bitPattern: eventNumber)
            attributes.attachType = AttachType.perfEvent.rawValue
            attributes.bpfCookie = cookie
            do {
                let link = try Sys.linkCreate(attributes)
                bpfLinkNumber = link.rawValue
                bpfLink = consume link
            } catch {
                throw .syscall(operation: "attach \(hook)", error: error)
            }
            return
        }
        guard cookie == 0 else {
            throw .notSupported(
                feature: "bpf cookie on perf events", requirement: "Linux 5.15 (BPF_LINK_CREATE for perf events)",
                detail: "BPF_LINK_CREATE with BPF_PERF_EVENT returned EINVAL")
        }
        do {
            try PerfEvent.ioctl(eventNumber, PerfEvent.setBPFRequest, UInt(bitPattern: Int(program)))
        } catch {
            throw .perfEventIOCTL(request: "PERF_EVENT_IOC_SET_BPF (\(hook))", errno: error)
        }
        do {
            try PerfEvent.ioctl(eventNumber, PerfEvent.enableRequest, 0)
        } catch {
            throw .perfEventIOCTL(request: "PERF_EVENT_IOC_ENABLE (\(hook))", errno: error)
        }
    }

    /// The bpf link's descriptor number, when there is one.
    private(set) var bpfLinkNumber: Int32?

    /// Detaches: closes the link and the perf event, then removes the tracefs event. Reports the
    /// first failure after trying every step.
    @discardableResult
    mutating func close() -> LinkError? {
        var failure: LinkError?
        bpfLinkNumber = nil
        if var link = bpfLink.take() {
            do { try link.close() } catch { failure = .system(operation: "close bpf link", errno: error) }
        }
        if var event = perfEvent.take() {
            do { try event.close() } catch {
                failure = failure ?? .system(operation: "close perf event", errno: error)
            }
        }
        if var event = tracefsEvent.take() {
            do { try event.remove() } catch { failure = failure ?? error }
        }
        return failure
    }
}

/// Kernel features the attach paths choose between, probed once per process.
public enum Features {
    /// The memoised answer; only definitive answers are stored (internal so tests can forget it).
    static let perfEventLink = Mutex<Bool?>(nil)

    /// Whether `BPF_LINK_CREATE` accepts perf events (`BPF_PERF_EVENT`, Linux 5.15).
    ///
    /// Probed by creating such a link for a trivial kprobe program with an invalid perf event
    /// descriptor: `EBADF` means the kernel got as far as looking the descriptor up, `EINVAL`
    /// that it does not know the attach type. Any other outcome (the probe program refused with
    /// `EPERM`, `ENOMEM`) answers false now and is probed again next time.
    public static var hasPerfEventLink: Bool {
        (try? perfEventLinkSupport()) ?? false
    }

    /// ``hasPerfEventLink``, with the probe's own failure as an error instead of a guess.
    static func perfEventLinkSupport() throws(LinkError) -> Bool {
        if let known = perfEventLink.withLock({ $0 }) { return known }
        let result = try probePerfEventLink()
        perfEventLink.withLock { $0 = result }
        return result
    }

    static func probePerfEventLink() throws(LinkError) -> Bool {
        let program: FileDescriptor
        do {
            program = try loadTrivialProgram(type: .kprobe)
        } catch {
            throw .syscall(operation: "probe BPF_LINK_CREATE for perf events (load a kprobe program)", error: error)
        }
        var attributes = LinkCreatePerfEventAttr()
        attributes.progFD = UInt32(bitPattern: program.rawValue)
        attributes.targetFD = UInt32(bitPattern: -1)
        attributes.attachType = AttachType.perfEvent.rawValue
        do {
            var link = try Sys.linkCreate(attributes)
            try? link.close()
            return true
        } catch {
            switch error.errno {
            case .badFileDescriptor: return true
            // Kernels before 5.15 (commit b89fbfbb854c, "bpf: Implement minimal BPF perf link")
            // do not know BPF_PERF_EVENT as a link attach type.
            case .invalidArgument: return false
            default: throw .syscall(operation: "probe BPF_LINK_CREATE for perf events", error: error)
            }
        }
    }

    /// `r0 = 0; exit`, loaded as `type`.
    static func loadTrivialProgram(type: ProgramType, expectedAttachType: AttachType? = nil) throws(BPFSyscallError) -> FileDescriptor {
        // mov64 r0, 0 ; exit — the register nibbles are zero, so the bytes are the same in both
        // byte orders.
        let instructions: [UInt8] = [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]
        return try Sys.loadProgram(
            type: type.rawValue, instructions: instructions, license: "GPL",
            expectedAttachType: expectedAttachType?.rawValue ?? 0
        ).takeDescriptor()
    }

    /// A second `Program` for `program`, kept by an attachment that must detach it later: a
    /// closed program is ``LinkError/programClosed(program:hook:)``, a failed duplicate (`EMFILE`)
    /// names its errno.
    static func clone(_ program: Program, hook: String) throws(LinkError) -> Program {
        do {
            return try program.clone()
        } catch {
            if case .descriptor(let errno) = error.reason {
                throw .system(operation: "duplicate program \(program.name) for \(hook)", errno: errno)
            }
            throw .programClosed(program: program.name, hook: hook)
        }
    }

    /// Runs `body` with `program`'s descriptor after checking that its type is one of `expected`.
    static func withProgram<Result>(
        _ program: Program, _ expected: [ProgramType], hook: String, _ body: (Int32) throws(LinkError) -> Result
    ) throws(LinkError) -> Result {
        guard expected.contains(program.type) else {
            throw .wrongProgramType(hook: hook, expected: expected, actual: program.type)
        }
        guard let result = try program.withFileDescriptorValue(body) else {
            throw .programClosed(program: program.name, hook: hook)
        }
        return result
    }
}
