import EBPFCollection
import EBPFNetlink
import EBPFSys
import Synchronization

/// XDP through netlink (`IFLA_XDP`), the way `ip link set dev IF xdp` and libbpf's
/// `bpf_xdp_attach` do it: works on every kernel with XDP (Linux 4.8), where the XDP link
/// (Linux 5.9) is missing or a tool expects a netlink attachment.
///
/// Unlike a bpf link, a program attached through netlink stays on the interface if the process
/// dies without closing the ``XDPNetlinkAttachment``, until it is detached (`ip link set dev IF
/// xdp off`) or the interface goes away. libbpf documents the same for `bpf_xdp_attach`.
///
/// ```swift
/// let attachment = try XDPNetlink.attach(program: filter, interfaceName: "eth0", mode: .generic)
/// let state = try XDPNetlink.query(interfaceName: "eth0")   // state.genericProgramID
/// ```
public enum XDPNetlink {
    /// `XDP_FLAGS_UPDATE_IF_NOEXIST` and `XDP_FLAGS_REPLACE`.
    static let updateIfNotExists: UInt32 = 1 << 0
    static let replaceFlag: UInt32 = 1 << 4

    /// What must be attached in the mode for the attach to go ahead.
    public enum Expectation: Sendable {
        /// Nothing: an attached program makes the attach fail (`XDP_FLAGS_UPDATE_IF_NOEXIST`)
        /// with ``LinkError/attachPointBusy(hook:detail:)``.
        case nothing
        /// Whatever is there is replaced.
        case anything
        /// Exactly this program (`XDP_FLAGS_REPLACE` with its descriptor, Linux 5.7); another one
        /// makes the attach fail with ``LinkError/attachPointBusy(hook:detail:)``.
        case program(Program)
    }

    /// Attaches `program` to interface `interfaceIndex` in `mode` (empty: driver mode where the
    /// driver supports it, generic otherwise). A mode the device cannot do fails with
    /// ``LinkError/notSupported(feature:requirement:detail:)`` carrying the kernel's text.
    public static func attach(
        program: Program, interfaceIndex: UInt32, mode: XDP.Mode = [], expecting expectation: Expectation = .nothing
    ) throws(LinkError) -> XDPNetlinkAttachment {
        let description = "XDP on interface \(interfaceIndex) (netlink)"
        let socket: NetlinkSocket
        do { socket = try NetlinkSocket() } catch { throw .netlink(error) }
        // Whether the program is attached, or may be (the reply to the attach was lost).
        var attached = false
        do throws(LinkError) {
            try Features.withProgram(program, [.xdp], hook: description) { (descriptor) throws(LinkError) in
                do throws(LinkError) {
                    try set(
                        socket, interfaceIndex: interfaceIndex, descriptor: descriptor, mode: mode, expectation: expectation,
                        description: description)
                    attached = true
                } catch {
                    if case .netlink(.noReply) = error { attached = true }
                    throw error
                }
            }
            let state: XDPState
            do { state = try socket.xdpState(interfaceIndex: interfaceIndex) } catch { throw LinkError.netlink(error) }
            let clone = try Features.clone(program, hook: description)
            return XDPNetlinkAttachment(
                socket: socket, program: clone, interfaceIndex: interfaceIndex, mode: mode, state: state, description: description)
        } catch {
            if attached { undo(socket, program: program, interfaceIndex: interfaceIndex, mode: mode, expectation: expectation) }
            socket.close()
            throw error
        }
    }

    /// Takes back an attach that failed after the kernel took, or may have taken, `program`:
    /// if `program` is what runs in `mode` now, the program expected before comes back (nothing,
    /// for ``Expectation/nothing`` and ``Expectation/anything``, whose predecessor is unknown).
    static func undo(_ socket: NetlinkSocket, program: Program, interfaceIndex: UInt32, mode: XDP.Mode, expectation: Expectation) {
        let previous: Program? = if case .program(let expected) = expectation { expected } else { nil }
        let restore = { (descriptor: Int32) in
            try? set(
                socket, interfaceIndex: interfaceIndex, descriptor: descriptor, mode: mode, expectation: .program(program),
                description: "undo XDP on interface \(interfaceIndex)")
        }
        if let previous {
            _ = previous.withFileDescriptorValue { restore($0) }
        } else {
            restore(-1)
        }
    }

    /// Attaches `program` to the interface named `interfaceName`.
    public static func attach(
        program: Program, interfaceName: String, mode: XDP.Mode = [], expecting expectation: Expectation = .nothing
    ) throws(LinkError) -> XDPNetlinkAttachment {
        try attach(
            program: program, interfaceIndex: try NetworkInterface.index(of: interfaceName), mode: mode, expecting: expectation)
    }

    /// The XDP programs on the interface, by mode.
    public static func query(interfaceIndex: UInt32) throws(LinkError) -> XDPState {
        do {
            let socket = try NetlinkSocket()
            defer { socket.close() }
            return try socket.xdpState(interfaceIndex: interfaceIndex)
        } catch {
            if error.errno == .noSuchDevice { throw .interfaceNotFound("index \(interfaceIndex)") }
            throw .netlink(error)
        }
    }

    /// The XDP programs on the interface named `interfaceName`.
    public static func query(interfaceName: String) throws(LinkError) -> XDPState {
        try query(interfaceIndex: try NetworkInterface.index(of: interfaceName))
    }

    static func set(
        _ socket: NetlinkSocket, interfaceIndex: UInt32, descriptor: Int32, mode: XDP.Mode, expectation: Expectation,
        description: String
    ) throws(LinkError) {
        var flags = mode.rawValue
        switch expectation {
        case .nothing: flags |= updateIfNotExists
        case .anything: break
        case .program(let expectedProgram):
            flags |= replaceFlag
            let outcome = expectedProgram.withFileDescriptorValue { (number) -> Result<Void, NetlinkError> in
                Result { () throws(NetlinkError) in
                    try socket.setXDP(
                        interfaceIndex: interfaceIndex, programDescriptor: descriptor, flags: flags, expectedDescriptor: number)
                }
            }
            guard let outcome else { throw .programClosed(program: expectedProgram.name, hook: description) }
            do { try outcome.get() } catch { throw mapped(error, interfaceIndex: interfaceIndex, mode: mode, description: description) }
            return
        }
        do { try socket.setXDP(interfaceIndex: interfaceIndex, programDescriptor: descriptor, flags: flags) } catch {
            throw mapped(error, interfaceIndex: interfaceIndex, mode: mode, description: description)
        }
    }

    static func mapped(_ error: NetlinkError, interfaceIndex: UInt32, mode: XDP.Mode, description: String) -> LinkError {
        let kernel = error.kernelMessage.map { " (kernel: \($0))" } ?? ""
        switch error.errno {
        case .noSuchDevice?:
            return .interfaceNotFound("index \(interfaceIndex)")
        case .resourceBusy?, .fileExists?:
            return .attachPointBusy(hook: description, detail: "another XDP program is attached" + kernel)
        case .notSupported?:
            return .notSupported(
                feature: "XDP mode 0x\(String(mode.rawValue, radix: 16)) on interface \(interfaceIndex)",
                requirement: mode.contains(.hardware) ? "a NIC that offloads XDP" : "a driver with native XDP support",
                detail: error.kernelMessage ?? "the kernel answered \(Errno.notSupported)")
        default:
            return .netlink(error)
        }
    }
}

/// An XDP program attached through netlink. Closing detaches it only if it is still the
/// program in its mode (`XDP_FLAGS_REPLACE` with its descriptor), so a program someone attached
/// in its place stays. It keeps the netlink socket it attached with, so it detaches in the right
/// network namespace whichever thread closes it; a crashed process leaves the program attached
/// (see ``XDPNetlink``).
public final class XDPNetlinkAttachment: Link {
    private let socket: NetlinkSocket
    private let program: Mutex<Program?>
    public let interfaceIndex: UInt32
    public let mode: XDP.Mode
    /// What the kernel reported right after the attach.
    public let attachedState: XDPState
    private let description: String

    init(socket: NetlinkSocket, program: Program, interfaceIndex: UInt32, mode: XDP.Mode, state: XDPState, description: String) {
        self.socket = socket
        self.program = Mutex(program)
        self.interfaceIndex = interfaceIndex
        self.mode = mode
        self.attachedState = state
        self.description = description
    }

    public var isClosed: Bool { program.withLock { $0 == nil } }

    /// The XDP programs on the interface now.
    public func query() throws(LinkError) -> XDPState {
        guard !isClosed else { throw .closed }
        do { return try socket.xdpState(interfaceIndex: interfaceIndex) } catch { throw .netlink(error) }
    }

    public func close() throws(LinkError) {
        guard let attached = program.withLock({ $0.take() }) else { return }
        defer {
            socket.close()
            _ = try? attached.close()
        }
        do throws(LinkError) {
            try XDPNetlink.set(
                socket, interfaceIndex: interfaceIndex, descriptor: -1, mode: mode, expectation: .program(attached),
                description: description)
        } catch {
            switch error {
            // Replaced by someone else, or the interface is gone: nothing of ours to detach.
            case .attachPointBusy, .interfaceNotFound: return
            default: throw error
            }
        }
    }

    public func info() throws(LinkError) -> LinkInfo {
        throw .notSupported(
            feature: "link info", requirement: "an XDP link (Linux 5.9)",
            detail: "\(description) was attached through netlink and has no link object; use query()")
    }

    deinit { _ = try? close() }
}

extension XDP {
    /// How an XDP program is attached.
    public enum Mechanism: Sendable, Equatable {
        /// An XDP link where the kernel has them (Linux 5.9), netlink otherwise.
        case automatic
        /// An XDP link (`BPF_LINK_CREATE`), detached when the link closes or the process dies.
        case link
        /// `IFLA_XDP` through netlink (see ``XDPNetlink``); outlives a crashed process.
        case netlink
    }

    /// Attaches `program` to interface `interfaceIndex` in `mode` with `mechanism`. With
    /// ``Mechanism/automatic`` the link comes first; when the kernel refuses it with `EINVAL`
    /// (kernels before 5.9 know no XDP link: commit aa8d3a716b59 added it) on an interface that
    /// exists, the program is attached through netlink, which gives the kernel's own text if the
    /// refusal had another cause.
    public static func attach(
        program: Program, interfaceIndex: UInt32, mode: Mode = [], mechanism: Mechanism
    ) throws(LinkError) -> XDPAttachment {
        switch mechanism {
        case .link:
            return XDPAttachment(link: try attach(interfaceIndex: interfaceIndex, program: program, mode: mode))
        case .netlink:
            return XDPAttachment(netlink: try XDPNetlink.attach(program: program, interfaceIndex: interfaceIndex, mode: mode))
        case .automatic:
            do {
                return XDPAttachment(link: try attach(interfaceIndex: interfaceIndex, program: program, mode: mode))
            } catch {
                guard case .syscall(_, let syscallError) = error, syscallError.errno == .invalidArgument,
                    NetworkInterface.exists(index: interfaceIndex)
                else { throw error }
                return XDPAttachment(netlink: try XDPNetlink.attach(program: program, interfaceIndex: interfaceIndex, mode: mode))
            }
        }
    }

    /// Attaches `program` to the interface named `interfaceName` with `mechanism`.
    public static func attach(
        program: Program, interfaceName: String, mode: Mode = [], mechanism: Mechanism
    ) throws(LinkError) -> XDPAttachment {
        try attach(
            program: program, interfaceIndex: try NetworkInterface.index(of: interfaceName), mode: mode, mechanism: mechanism)
    }
}

/// An XDP program attached by ``XDP/attach(program:interfaceIndex:mode:mechanism:)``: a link or
/// a netlink attachment. Closing detaches it either way.
public final class XDPAttachment: Link {
    /// ``XDP/Mechanism/link`` or ``XDP/Mechanism/netlink``: what attached the program.
    public let mechanism: XDP.Mechanism
    private let attached: any Link

    init(link: RawLink) {
        mechanism = .link
        attached = link
    }

    init(netlink: XDPNetlinkAttachment) {
        mechanism = .netlink
        attached = netlink
    }

    /// The link, when one was used.
    public var link: RawLink? { attached as? RawLink }
    /// The netlink attachment, when netlink was used.
    public var netlinkAttachment: XDPNetlinkAttachment? { attached as? XDPNetlinkAttachment }

    public var isClosed: Bool { attached.isClosed }
    public func close() throws(LinkError) { try attached.close() }
    public func info() throws(LinkError) -> LinkInfo { try attached.info() }
}
