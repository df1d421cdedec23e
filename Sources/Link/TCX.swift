import EBPFCollection
import EBPFSys

/// tcx: `BPF_PROG_TYPE_SCHED_CLS` programs on a network interface's ingress or egress path,
/// held by links, in an ordered list placed with an ``Anchor``. Requires Linux 6.6
/// (`CONFIG_NET_XGRESS`).
///
/// ```swift
/// let link = try TCX.attach(program: classifier, interfaceName: "eth0", attachType: .tcxIngress)
/// let attached = try ProgramQuery.query(interfaceName: "eth0", attachType: .tcxIngress)
/// ```
public enum TCX {
    /// Attaches `program` to interface `interfaceIndex` for `attachType` (``AttachType/tcxIngress``
    /// or ``AttachType/tcxEgress``) at `anchor`. A nonzero `expectedRevision` makes the kernel
    /// refuse (`ESTALE`) when the list changed since a query reported that revision.
    public static func attach(
        program: Program, interfaceIndex: UInt32, attachType: AttachType, anchor: Anchor = .tail,
        expectedRevision: UInt64 = 0
    ) throws(LinkError) -> RawLink {
        guard attachType == .tcxIngress || attachType == .tcxEgress else {
            throw .invalidOption("tcx attach type must be tcxIngress or tcxEgress, not \(attachType.rawValue)")
        }
        let hook = "tcx \(attachType == .tcxIngress ? "ingress" : "egress") on interface \(interfaceIndex)"
        return try MultiProgramHook.attach(
            program: program, interfaceIndex: interfaceIndex, attachType: attachType, anchor: anchor,
            expectedRevision: expectedRevision, hook: hook)
    }

    /// Attaches `program` to the interface named `interfaceName`.
    public static func attach(
        program: Program, interfaceName: String, attachType: AttachType, anchor: Anchor = .tail,
        expectedRevision: UInt64 = 0
    ) throws(LinkError) -> RawLink {
        try attach(
            program: program, interfaceIndex: try NetworkInterface.index(of: interfaceName), attachType: attachType,
            anchor: anchor, expectedRevision: expectedRevision)
    }
}

/// What tcx and netkit share: a link on an interface for a `SCHED_CLS` program with an anchor and
/// an expected revision, and the probe that tells a missing hook from a bad argument.
enum MultiProgramHook {
    static func attach(
        program: Program, interfaceIndex: UInt32, attachType: AttachType, anchor: Anchor, expectedRevision: UInt64,
        hook: String
    ) throws(LinkError) -> RawLink {
        try Features.withProgram(program, [.schedCls], hook: hook) { (descriptor) throws(LinkError) -> RawLink in
            try anchor.withRelative(hook: hook) { (flags, relative) throws(LinkError) -> RawLink in
                var attributes = LinkCreateTCXAttr()
                attributes.progFD = UInt32(bitPattern: descriptor)
                attributes.targetIfindex = interfaceIndex
                attributes.attachType = attachType.rawValue
                attributes.flags = flags
                attributes.relativeFD = relative
                attributes.expectedRevision = expectedRevision
                do throws(BPFSyscallError) {
                    return RawLink(adopting: try Sys.linkCreate(attributes))
                } catch {
                    if error.errno == .invalidArgument, let missing = missing(attachType) { throw missing }
                    if error.errno == .noSuchDevice { throw .interfaceNotFound("index \(interfaceIndex)") }
                    if error.errno == .noSuchDeviceOrAddress, attachType == .netkitPrimary || attachType == .netkitPeer {
                        throw .invalidOption("\(hook): the interface is not a netkit device")
                    }
                    throw .syscall(operation: "attach \(hook)", error: error)
                }
            }
        }
    }

    /// The not-supported error when the kernel lacks the hook behind `attachType`, nil when it
    /// has it or `attachType` is not a tcx or netkit type.
    static func missing(_ attachType: AttachType) -> LinkError? {
        switch attachType {
        case .tcxIngress, .tcxEgress:
            return hasTCX
                ? nil
                : .notSupported(
                    feature: "tcx", requirement: "Linux 6.6 with CONFIG_NET_XGRESS",
                    detail: "BPF_PROG_QUERY for BPF_TCX_INGRESS on lo returned EINVAL")
        case .netkitPrimary, .netkitPeer:
            return hasNetkit
                ? nil
                : .notSupported(
                    feature: "netkit", requirement: "CONFIG_NETKIT (Linux 6.7)",
                    detail: "BPF_PROG_QUERY for BPF_NETKIT_PRIMARY on lo returned EINVAL")
        default:
            return nil
        }
    }

    /// Whether the kernel knows tcx: querying it on the loopback interface (index 1 in every
    /// network namespace) succeeds; a kernel without it refuses the attach type with `EINVAL`.
    static let hasTCX: Bool = queryOnLoopback(.tcxIngress) != .invalidArgument

    /// Whether the kernel knows netkit: with it, querying the loopback interface fails with
    /// `ENXIO` (not a netkit device); without it, with `EINVAL`.
    static let hasNetkit: Bool = queryOnLoopback(.netkitPrimary) != .invalidArgument

    private static func queryOnLoopback(_ attachType: AttachType) -> Errno? {
        var attributes = ProgQueryAttr()
        attributes.targetIfindex = 1
        attributes.attachType = attachType.rawValue
        do throws(BPFSyscallError) {
            try Sys.progQuery(&attributes)
            return nil
        } catch {
            return error.errno
        }
    }
}
