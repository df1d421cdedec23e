import EBPFCollection

/// netkit: `BPF_PROG_TYPE_SCHED_CLS` programs on a netkit device pair, for the primary device or
/// its peer, held by links in an ordered list placed with an ``Anchor``. Requires Linux 6.7 with
/// `CONFIG_NETKIT`; elsewhere attaching throws ``LinkError/notSupported(feature:requirement:detail:)``
/// naming `CONFIG_NETKIT`.
///
/// ```swift
/// let link = try Netkit.attach(program: policy, interfaceName: "nk0", attachType: .netkitPrimary)
/// ```
public enum Netkit {
    /// Attaches `program` to the netkit device `interfaceIndex` for `attachType`
    /// (``AttachType/netkitPrimary`` or ``AttachType/netkitPeer``) at `anchor`.
    public static func attach(
        program: Program, interfaceIndex: UInt32, attachType: AttachType, anchor: Anchor = .tail,
        expectedRevision: UInt64 = 0
    ) throws(LinkError) -> RawLink {
        guard attachType == .netkitPrimary || attachType == .netkitPeer else {
            throw .invalidOption("netkit attach type must be netkitPrimary or netkitPeer, not \(attachType.rawValue)")
        }
        if let missing = MultiProgramHook.missing(attachType) { throw missing }
        let hook = "netkit \(attachType == .netkitPrimary ? "primary" : "peer") on interface \(interfaceIndex)"
        return try MultiProgramHook.attach(
            program: program, interfaceIndex: interfaceIndex, attachType: attachType, anchor: anchor,
            expectedRevision: expectedRevision, hook: hook)
    }

    /// Attaches `program` to the netkit device named `interfaceName`.
    public static func attach(
        program: Program, interfaceName: String, attachType: AttachType, anchor: Anchor = .tail,
        expectedRevision: UInt64 = 0
    ) throws(LinkError) -> RawLink {
        try attach(
            program: program, interfaceIndex: try NetworkInterface.index(of: interfaceName), attachType: attachType,
            anchor: anchor, expectedRevision: expectedRevision)
    }
}
