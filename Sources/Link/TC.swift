import EBPFCollection
import EBPFNetlink
import EBPFSys

/// A `SCHED_CLS` program on a network interface's ingress or egress path, through whichever
/// mechanism the kernel offers: a tcx link (Linux 6.6, ``TCX``) where the kernel has tcx, a
/// cls_bpf filter attached through netlink (``TCNetlink``) otherwise. The returned
/// ``TCAttachment`` says which one it used.
///
/// Programs written for either work with both when they return `TC_ACT_OK` (0) to pass and
/// `TC_ACT_SHOT` (2) to drop: tcx's `TCX_PASS` and `TCX_DROP` have the same values.
///
/// ```swift
/// let attachment = try TC.attach(program: classifier, interfaceName: "eth0", direction: .ingress)
/// print(attachment.mechanism)   // .tcx on Linux 6.6 and later, .netlink before
/// ```
public enum TC {
    /// The packet path the program sees.
    public enum Direction: Sendable, Equatable {
        case ingress, egress
    }

    /// How a tc program is attached.
    public enum Mechanism: Sendable, Equatable {
        /// tcx where the kernel has it, netlink otherwise.
        case automatic
        /// A tcx link; on a kernel without tcx, attaching fails with
        /// ``LinkError/notSupported(feature:requirement:detail:)``.
        case tcx
        /// A cls_bpf filter in direct-action mode on a clsact qdisc, through netlink. It outlives
        /// the process if the process dies without closing it (see ``TCNetlink``).
        case netlink
    }

    /// Attaches `program` to interface `interfaceIndex` in `direction` with `mechanism`;
    /// `netlink` places the filter when netlink is used.
    public static func attach(
        program: Program, interfaceIndex: UInt32, direction: Direction, mechanism: Mechanism = .automatic,
        netlink: TCNetlink.Options = TCNetlink.Options()
    ) throws(LinkError) -> TCAttachment {
        let resolved = mechanism == .automatic ? (MultiProgramHook.hasTCX ? Mechanism.tcx : .netlink) : mechanism
        if resolved == .tcx {
            let link = try TCX.attach(
                program: program, interfaceIndex: interfaceIndex, attachType: direction == .ingress ? .tcxIngress : .tcxEgress)
            return TCAttachment(tcx: link)
        }
        let filter = try TCNetlink.attach(
            program: program, interfaceIndex: interfaceIndex, hook: direction == .ingress ? .ingress : .egress, options: netlink)
        return TCAttachment(netlink: filter)
    }

    /// Attaches `program` to the interface named `interfaceName`.
    public static func attach(
        program: Program, interfaceName: String, direction: Direction, mechanism: Mechanism = .automatic,
        netlink: TCNetlink.Options = TCNetlink.Options()
    ) throws(LinkError) -> TCAttachment {
        try attach(
            program: program, interfaceIndex: try NetworkInterface.index(of: interfaceName), direction: direction,
            mechanism: mechanism, netlink: netlink)
    }
}

/// A tc program attached by ``TC/attach(program:interfaceIndex:direction:mechanism:netlink:)``:
/// a tcx link or a netlink filter. Closing detaches it either way.
public final class TCAttachment: Link {
    /// ``TC/Mechanism/tcx`` or ``TC/Mechanism/netlink``: what attached the program.
    public let mechanism: TC.Mechanism
    private let attached: any Link

    init(tcx link: RawLink) {
        mechanism = .tcx
        attached = link
    }

    init(netlink filter: TCFilterAttachment) {
        mechanism = .netlink
        attached = filter
    }

    /// The link, when tcx was used.
    public var tcxLink: RawLink? { attached as? RawLink }
    /// The filter, when netlink was used.
    public var netlinkFilter: TCFilterAttachment? { attached as? TCFilterAttachment }

    public var isClosed: Bool { attached.isClosed }
    public func close() throws(LinkError) { try attached.close() }

    /// The link's info with tcx; ``LinkError/notSupported(feature:requirement:detail:)`` with
    /// netlink (query the filter through ``netlinkFilter`` instead).
    public func info() throws(LinkError) -> LinkInfo { try attached.info() }
}
