import EBPFCollection
import EBPFNetlink
import EBPFSys
import Synchronization

/// tc through netlink: a `SCHED_CLS` program as a cls_bpf filter in direct-action mode on a
/// `clsact` qdisc, the way `tc filter add ... bpf da` and libbpf's `bpf_tc_attach` do it. Works
/// on every kernel with `cls_bpf` and `sch_ingress` (Linux 4.5 for clsact); ``TC/attach(program:interfaceIndex:direction:mechanism:netlink:)``
/// picks it where tcx is missing.
///
/// Unlike a bpf link, a filter attached through netlink is not tied to this process: if the
/// process dies without closing the ``TCFilterAttachment``, the filter (and the qdisc it
/// created) stays on the interface and keeps running the program, until someone deletes it
/// (`tc filter del`, `tc qdisc del dev IF clsact`) or the interface goes away. libbpf documents
/// the same for `bpf_tc_attach`.
///
/// ```swift
/// let filter = try TCNetlink.attach(program: classifier, interfaceName: "eth0", hook: .ingress)
/// print(filter.handle, filter.priority, try filter.query().programID ?? 0)
/// try filter.close()   // deletes the filter, and the clsact qdisc if this attach created it
/// ```
public enum TCNetlink {
    /// Where the filter goes: `handle` and `priority` 0 let the kernel choose (the chosen values
    /// are on the returned object). With `replace`, an existing filter at the same handle and
    /// priority gets the new program (`NLM_F_REPLACE`); without it, an existing filter there is
    /// an error (`NLM_F_EXCL`), ``LinkError/attachPointBusy(hook:detail:)``.
    public struct Options: Sendable, Equatable {
        public var handle: UInt32
        public var priority: UInt16
        public var replace: Bool

        public init(handle: UInt32 = 0, priority: UInt16 = 0, replace: Bool = false) {
            self.handle = handle
            self.priority = priority
            self.replace = replace
        }
    }

    /// Attaches `program` to `hook` of interface `interfaceIndex` (in the calling thread's network
    /// namespace), adding a `clsact` qdisc first when the interface has none.
    public static func attach(
        program: Program, interfaceIndex: UInt32, hook: ClsactHook, options: Options = Options()
    ) throws(LinkError) -> TCFilterAttachment {
        let description = "tc \(hook) on interface \(interfaceIndex) (netlink)"
        if options.replace, options.handle == 0 || options.priority == 0 {
            throw .invalidOption("\(description): replacing needs the handle and priority of the filter to replace")
        }
        let socket: NetlinkSocket
        do { socket = try NetlinkSocket() } catch { throw .netlink(error) }
        // Whether this attach added the clsact qdisc, or may have (its reply was lost). The
        // qdiscs are listed first so that a lost reply never makes someone else's qdisc ours.
        var createdQdisc = false
        do throws(LinkError) {
            let hadQdisc: Bool
            do { hadQdisc = try socket.qdiscs(interfaceIndex: interfaceIndex).contains { $0.kind == "clsact" } } catch {
                throw error.errno == .noSuchDevice ? .interfaceNotFound("index \(interfaceIndex)") : .netlink(error)
            }
            if !hadQdisc {
                do {
                    try socket.addClsactQdisc(interfaceIndex: interfaceIndex)
                    createdQdisc = true
                } catch {
                    // It was not there a moment ago: if it is there now, it is this request's.
                    if case .noReply = error { createdQdisc = true }
                    if error.errno == .noSuchDevice { throw .interfaceNotFound("index \(interfaceIndex)") }
                    // EEXIST: someone added one since the listing; it is theirs.
                    if error.errno != .fileExists || createdQdisc { throw .netlink(error) }
                }
            }
            // The filters there before, so that a filter whose reply is lost can be told apart.
            var before: [TrafficControlFilter] = []
            if !createdQdisc {
                do { before = try socket.filters(interfaceIndex: interfaceIndex, hook: hook) } catch { throw .netlink(error) }
            }
            let filter = try Features.withProgram(program, [.schedCls], hook: description) { (descriptor) throws(LinkError) in
                do throws(LinkError) {
                    return try addFilter(
                        socket, descriptor: descriptor, name: program.name, interfaceIndex: interfaceIndex, hook: hook,
                        options: options, description: description)
                } catch {
                    if case .netlink(.noReply) = error, !options.replace {
                        removeLostFilter(socket, program: program, interfaceIndex: interfaceIndex, hook: hook, before: before)
                    }
                    throw error
                }
            }
            return TCFilterAttachment(
                socket: socket, filter: filter, hook: hook, createdQdisc: createdQdisc, description: description)
        } catch {
            if createdQdisc { TCFilterAttachment.removeQdiscIfUnused(socket, interfaceIndex: interfaceIndex) }
            socket.close()
            throw error
        }
    }

    /// Deletes the filter a request whose reply was lost may have added: one that runs `program`
    /// on `hook` at a handle and priority no filter had before the request.
    static func removeLostFilter(
        _ socket: NetlinkSocket, program: Program, interfaceIndex: UInt32, hook: ClsactHook, before: [TrafficControlFilter]
    ) {
        guard let programID = try? program.info().id,
            let now = try? socket.filters(interfaceIndex: interfaceIndex, hook: hook)
        else { return }
        let taken = Set(before.map { [$0.handle, UInt32($0.priority)] })
        for filter in now where filter.programID == programID && !taken.contains([filter.handle, UInt32(filter.priority)]) {
            try? socket.deleteBPFFilter(interfaceIndex: interfaceIndex, hook: hook, handle: filter.handle, priority: filter.priority)
        }
    }

    /// Attaches `program` to the interface named `interfaceName`.
    public static func attach(
        program: Program, interfaceName: String, hook: ClsactHook, options: Options = Options()
    ) throws(LinkError) -> TCFilterAttachment {
        try attach(program: program, interfaceIndex: try NetworkInterface.index(of: interfaceName), hook: hook, options: options)
    }

    /// The cls_bpf filters on `hook` of the interface, with their program ids and tags (an
    /// `RTM_GETTFILTER` dump; empty without a clsact qdisc).
    public static func query(interfaceIndex: UInt32, hook: ClsactHook) throws(LinkError) -> [TrafficControlFilter] {
        do {
            let socket = try NetlinkSocket()
            defer { socket.close() }
            return try socket.filters(interfaceIndex: interfaceIndex, hook: hook)
        } catch {
            if error.errno == .noSuchDevice { throw .interfaceNotFound("index \(interfaceIndex)") }
            throw .netlink(error)
        }
    }

    static func addFilter(
        _ socket: NetlinkSocket, descriptor: Int32, name: String, interfaceIndex: UInt32, hook: ClsactHook, options: Options,
        description: String
    ) throws(LinkError) -> TrafficControlFilter {
        do {
            return try socket.addBPFFilter(
                interfaceIndex: interfaceIndex, hook: hook, handle: options.handle, priority: options.priority,
                programDescriptor: descriptor, programName: name, replace: options.replace)
        } catch {
            switch error.errno {
            case .fileExists?:
                throw .attachPointBusy(
                    hook: description,
                    detail: "a filter holds handle \(options.handle) at priority \(options.priority)"
                        + (error.kernelMessage.map { " (kernel: \($0))" } ?? ""))
            case .noSuchDevice?:
                throw .interfaceNotFound("index \(interfaceIndex)")
            default:
                throw .netlink(error)
            }
        }
    }
}

/// A cls_bpf filter attached through netlink. Closing deletes the filter if it still runs the
/// program it was attached with, then the `clsact` qdisc if this attachment created it and no
/// filter is left on it; a qdisc that was there before is left alone.
///
/// The attachment keeps the netlink socket it attached with, so it removes the filter from the
/// right network namespace whichever thread closes it. The filter does not depend on this
/// object: a process that crashes leaves it attached (see ``TCNetlink``).
public final class TCFilterAttachment: Link {
    private let socket: NetlinkSocket
    private let state: Mutex<TrafficControlFilter?>
    /// The interface, hook, handle and priority the filter sits at.
    public let interfaceIndex: UInt32
    public let hook: ClsactHook
    public let handle: UInt32
    public let priority: UInt16
    /// Whether attaching added the `clsact` qdisc (and closing removes it when it is empty).
    public let createdQdisc: Bool
    private let description: String

    init(socket: NetlinkSocket, filter: TrafficControlFilter, hook: ClsactHook, createdQdisc: Bool, description: String) {
        self.socket = socket
        self.state = Mutex(filter)
        self.interfaceIndex = filter.interfaceIndex
        self.hook = hook
        self.handle = filter.handle
        self.priority = filter.priority
        self.createdQdisc = createdQdisc
        self.description = description
    }

    /// The program id the kernel reported when the filter was attached (or last replaced).
    public var programID: UInt32? { state.withLock { $0?.programID } }

    public var isClosed: Bool { state.withLock { $0 == nil } }

    /// What the kernel reports about the filter now: program id, tag, name, direct action.
    public func query() throws(LinkError) -> TrafficControlFilter {
        guard !isClosed else { throw .closed }
        do {
            return try socket.bpfFilter(interfaceIndex: interfaceIndex, hook: hook, handle: handle, priority: priority)
        } catch {
            throw .netlink(error)
        }
    }

    /// Swaps the filter's program (`NLM_F_REPLACE` at the same handle and priority); packets
    /// see either program, never none.
    public func replace(program: Program) throws(LinkError) {
        guard !isClosed else { throw .closed }
        let options = TCNetlink.Options(handle: handle, priority: priority, replace: true)
        do throws(LinkError) {
            let filter = try Features.withProgram(program, [.schedCls], hook: description) { (descriptor) throws(LinkError) in
                try TCNetlink.addFilter(
                    socket, descriptor: descriptor, name: program.name, interfaceIndex: interfaceIndex, hook: hook,
                    options: options, description: description)
            }
            state.withLock { $0 = filter }
        } catch {
            // The reply was lost: the filter runs one program or the other. Remember which, so
            // that close() still deletes a filter that runs the new one.
            if case .netlink(.noReply) = error,
                let current = try? socket.bpfFilter(interfaceIndex: interfaceIndex, hook: hook, handle: handle, priority: priority)
            {
                state.withLock { if $0 != nil { $0 = current } }
            }
            throw error
        }
    }

    public func close() throws(LinkError) {
        guard let attached = state.withLock({ $0.take() }) else { return }
        defer { socket.close() }
        do {
            let current = try socket.bpfFilter(interfaceIndex: interfaceIndex, hook: hook, handle: handle, priority: priority)
            // Someone replaced the program (NLM_F_REPLACE): the filter is theirs now.
            if current.programID == attached.programID {
                try socket.deleteBPFFilter(interfaceIndex: interfaceIndex, hook: hook, handle: handle, priority: priority)
            }
        } catch {
            // The filter, its qdisc or the device is gone already: nothing to detach.
            if let errno = error.errno, [.noSuchFileOrDirectory, .noSuchDevice, .invalidArgument].contains(errno) {
                return
            }
            throw .netlink(error)
        }
        if createdQdisc { Self.removeQdiscIfUnused(socket, interfaceIndex: interfaceIndex) }
    }

    /// Deletes the clsact qdisc when neither of its hooks has a filter.
    static func removeQdiscIfUnused(_ socket: NetlinkSocket, interfaceIndex: UInt32) {
        for hook in ClsactHook.allCases {
            guard let filters = try? socket.filters(interfaceIndex: interfaceIndex, hook: hook), filters.isEmpty else { return }
        }
        try? socket.deleteClsactQdisc(interfaceIndex: interfaceIndex)
    }

    public func info() throws(LinkError) -> LinkInfo {
        throw .notSupported(
            feature: "link info", requirement: "a link (tcx, Linux 6.6)",
            detail: "\(description) is a cls_bpf filter attached through netlink and has no link object; use query()")
    }

    deinit { _ = try? close() }
}
