import EBPFCollection

/// What a program's ELF section name says about it: program type, expected attach type, load
/// flags and attach target. The table's entries and order are libbpf's (`section_defs` in
/// `libbpf.c`) as cilium/ebpf carries them; the matching rule is cilium/ebpf's, so an object
/// written for cilium/ebpf means the same here.
///
/// Matching, in table order, first match wins (a leading `?`, libbpf's "do not autoload" mark, is
/// ignored for matching):
/// - a pattern written `name+` matches when the part of the section name before its first slash is
///   `name` (`kprobe`, `kprobe/do_unlinkat`; not `kprobex`); the rest after the slash is the attach
///   target.
/// - any other pattern matches every section name that starts with it, and ignores the rest:
///   `socket/2` and `socketX` are socket filters, `xdp_foo` is XDP, `tcx/foo` is `tc`. This is why
///   order matters: `sk_reuseport/migrate` comes before `sk_reuseport`, `xdp.frags/devmap` before
///   `xdp`, `tcx/ingress` before `tc`, `cgroup/sock_create` before `cgroup/sock`.
///
/// A section that matches nothing gives ``ProgramType/unspec``, which the kernel refuses at load.
///
/// Where this differs from libbpf 1.x: libbpf matches the plain patterns exactly, so it refuses
/// `socket/2` or `xdp_foo` as unknown; cilium/ebpf (whose loader tests use `socket/2`) and we
/// accept them. Like cilium/ebpf and libbpf, the name after `struct_ops/` is ignored: the
/// program's struct_ops member comes from the struct_ops map that names it.
public struct ProgramSection: Sendable, Hashable {
    public var type: ProgramType
    public var attachType: AttachType?
    public var flags: ProgramFlags
    /// The part of the section name after the matched pattern's slash: the kernel function of a
    /// kprobe or fentry, `group/name` of a tracepoint, `path:function` of a uprobe, ... Nil when the
    /// section has none or the pattern ignores it.
    public var attachTarget: String?

    public init(type: ProgramType, attachType: AttachType? = nil, flags: ProgramFlags = [], attachTarget: String? = nil) {
        self.type = type
        self.attachType = attachType
        self.flags = flags
        self.attachTarget = attachTarget
    }

    /// Looks `sectionName` up in the table; ``ProgramType/unspec`` when nothing matches.
    public init(sectionName: String) {
        guard let (position, target) = Self.firstMatch(sectionName) else {
            self.init(type: .unspec)
            return
        }
        let definition = Self.table[position]
        let ignoresTarget = definition.type == .structOps
        self.init(
            type: definition.type, attachType: definition.attachType, flags: definition.flags,
            attachTarget: target.isEmpty || ignoresTarget ? nil : target)
    }

    /// Whether the section name matches an entry of the table.
    public static func isKnown(_ sectionName: String) -> Bool {
        firstMatch(sectionName) != nil
    }

    /// The table position of the first definition `name` matches, and the attach target ("" for
    /// none): a scan of about a hundred short byte comparisons in table order.
    private static func firstMatch(_ name: String) -> (Int, String)? {
        var name = name
        return name.withUTF8 { whole -> (Int, String)? in
            var bytes = whole[...]
            if bytes.first == UInt8(ascii: "?") { bytes = bytes.dropFirst() }
            // The part before the first slash, which `name+` patterns compare whole.
            let slash = bytes.firstIndex(of: UInt8(ascii: "/"))
            let head = bytes[..<(slash ?? bytes.endIndex)]
            for position in table.indices {
                let pattern = patternBytes[position]
                switch table[position].kind {
                case .prefix:
                    if bytes.starts(with: pattern) { return (position, "") }
                case .optionalTarget:
                    guard head.elementsEqual(pattern) else { continue }
                    guard let slash else { return (position, "") }
                    return (position, String(decoding: bytes[(slash + 1)...], as: UTF8.self))
                }
            }
            return nil
        }
    }

    private static let patternBytes: [[UInt8]] = table.map { Array($0.pattern.utf8) }

    /// Every pattern of the table, in matching order, as libbpf writes them (`kprobe+`, `xdp`, ...).
    public static var patterns: [String] { table.map { $0.pattern + $0.kind.suffix } }

    private struct Definition: Sendable {
        enum Kind: Sendable {
            /// Written `name`: the section name starts with it; the rest is ignored.
            case prefix
            /// Written `name+`: the section name is `name` or `name/target`.
            case optionalTarget

            var suffix: String {
                switch self {
                case .prefix: ""
                case .optionalTarget: "+"
                }
            }
        }
        var pattern: String
        var kind: Kind
        var type: ProgramType
        var attachType: AttachType?
        var flags: ProgramFlags
    }

    /// A pattern without `+` or `/`: matches every section name starting with it.
    private static func plain(_ pattern: String, _ type: ProgramType, _ attachType: AttachType? = nil, _ flags: ProgramFlags = []) -> Definition {
        Definition(pattern: pattern, kind: .prefix, type: type, attachType: attachType, flags: flags)
    }

    /// A pattern written `pattern+`.
    private static func withTarget(_ pattern: String, _ type: ProgramType, _ attachType: AttachType? = nil, _ flags: ProgramFlags = []) -> Definition {
        Definition(pattern: pattern, kind: .optionalTarget, type: type, attachType: attachType, flags: flags)
    }

    /// `BPF_TRACE_FSESSION` (58, Linux 6.19), newer than the 6.18 BTF the attach type enum is
    /// generated from.
    private static let traceFSession = AttachType(rawValue: 58)

    private static let table: [Definition] = [
        plain("socket", .socketFilter),
        plain("sk_reuseport/migrate", .skReuseport, .skReuseportSelectOrMigrate),
        plain("sk_reuseport", .skReuseport, .skReuseportSelect),
        withTarget("kprobe", .kprobe),
        withTarget("uprobe", .kprobe),
        withTarget("uprobe.s", .kprobe, nil, .sleepable),
        withTarget("kretprobe", .kprobe),
        withTarget("uretprobe", .kprobe),
        withTarget("uretprobe.s", .kprobe, nil, .sleepable),
        withTarget("kprobe.multi", .kprobe, .traceKprobeMulti),
        withTarget("kretprobe.multi", .kprobe, .traceKprobeMulti),
        withTarget("kprobe.session", .kprobe, .traceKprobeSession),
        withTarget("uprobe.multi", .kprobe, .traceUprobeMulti),
        withTarget("uretprobe.multi", .kprobe, .traceUprobeMulti),
        withTarget("uprobe.session", .kprobe, .traceUprobeSession),
        withTarget("uprobe.multi.s", .kprobe, .traceUprobeMulti, .sleepable),
        withTarget("uretprobe.multi.s", .kprobe, .traceUprobeMulti, .sleepable),
        withTarget("uprobe.session.s", .kprobe, .traceUprobeSession, .sleepable),
        withTarget("ksyscall", .kprobe),
        withTarget("kretsyscall", .kprobe),
        withTarget("usdt", .kprobe),
        withTarget("usdt.s", .kprobe, nil, .sleepable),
        plain("tc/ingress", .schedCls, .tcxIngress),
        plain("tc/egress", .schedCls, .tcxEgress),
        plain("tcx/ingress", .schedCls, .tcxIngress),
        plain("tcx/egress", .schedCls, .tcxEgress),
        plain("tc", .schedCls),
        plain("classifier", .schedCls),
        plain("action", .schedAct),
        plain("netkit/primary", .schedCls, .netkitPrimary),
        plain("netkit/peer", .schedCls, .netkitPeer),
        withTarget("tracepoint", .tracepoint),
        withTarget("tp", .tracepoint),
        withTarget("raw_tracepoint", .rawTracepoint),
        withTarget("raw_tp", .rawTracepoint),
        withTarget("raw_tracepoint.w", .rawTracepointWritable),
        withTarget("raw_tp.w", .rawTracepointWritable),
        withTarget("tp_btf", .tracing, .traceRawTp),
        withTarget("fentry", .tracing, .traceFEntry),
        withTarget("fmod_ret", .tracing, .modifyReturn),
        withTarget("fexit", .tracing, .traceFExit),
        withTarget("fentry.s", .tracing, .traceFEntry, .sleepable),
        withTarget("fmod_ret.s", .tracing, .modifyReturn, .sleepable),
        withTarget("fexit.s", .tracing, .traceFExit, .sleepable),
        withTarget("fsession", .tracing, traceFSession),
        withTarget("fsession.s", .tracing, traceFSession, .sleepable),
        withTarget("freplace", .ext),
        withTarget("lsm", .lsm, .lsmMAC),
        withTarget("lsm.s", .lsm, .lsmMAC, .sleepable),
        withTarget("lsm_cgroup", .lsm, .lsmCgroup),
        withTarget("iter", .tracing, .traceIter),
        withTarget("iter.s", .tracing, .traceIter, .sleepable),
        plain("syscall", .syscall, nil, .sleepable),
        plain("xdp.frags/devmap", .xdp, .xdpDevmap, .xdpHasFragments),
        plain("xdp/devmap", .xdp, .xdpDevmap),
        plain("xdp.frags/cpumap", .xdp, .xdpCPUMap, .xdpHasFragments),
        plain("xdp/cpumap", .xdp, .xdpCPUMap),
        plain("xdp.frags", .xdp, .xdp, .xdpHasFragments),
        plain("xdp", .xdp, .xdp),
        plain("perf_event", .perfEvent),
        plain("lwt_in", .lwtIn),
        plain("lwt_out", .lwtOut),
        plain("lwt_xmit", .lwtXmit),
        plain("lwt_seg6local", .lwtSeg6Local),
        plain("sockops", .sockOps, .cgroupSockOps),
        plain("sk_skb/stream_parser", .skSKB, .skSKBStreamParser),
        plain("sk_skb/stream_verdict", .skSKB, .skSKBStreamVerdict),
        plain("sk_skb/verdict", .skSKB, .skSKBVerdict),
        plain("sk_skb", .skSKB),
        plain("sk_msg", .skMsg, .skMsgVerdict),
        plain("lirc_mode2", .lircMode2, .lircMode2),
        plain("flow_dissector", .flowDissector, .flowDissector),
        plain("cgroup_skb/ingress", .cgroupSKB, .cgroupINetIngress),
        plain("cgroup_skb/egress", .cgroupSKB, .cgroupINetEgress),
        plain("cgroup/skb", .cgroupSKB),
        plain("cgroup/sock_create", .cgroupSock, .cgroupINetSockCreate),
        plain("cgroup/sock_release", .cgroupSock, .cgroupINetSockRelease),
        plain("cgroup/sock", .cgroupSock, .cgroupINetSockCreate),
        plain("cgroup/post_bind4", .cgroupSock, .cgroupINet4PostBind),
        plain("cgroup/post_bind6", .cgroupSock, .cgroupINet6PostBind),
        plain("cgroup/bind4", .cgroupSockAddr, .cgroupINet4Bind),
        plain("cgroup/bind6", .cgroupSockAddr, .cgroupINet6Bind),
        plain("cgroup/connect4", .cgroupSockAddr, .cgroupINet4Connect),
        plain("cgroup/connect6", .cgroupSockAddr, .cgroupINet6Connect),
        plain("cgroup/connect_unix", .cgroupSockAddr, .cgroupUnixConnect),
        plain("cgroup/sendmsg4", .cgroupSockAddr, .cgroupUDP4Sendmsg),
        plain("cgroup/sendmsg6", .cgroupSockAddr, .cgroupUDP6Sendmsg),
        plain("cgroup/sendmsg_unix", .cgroupSockAddr, .cgroupUnixSendmsg),
        plain("cgroup/recvmsg4", .cgroupSockAddr, .cgroupUDP4Recvmsg),
        plain("cgroup/recvmsg6", .cgroupSockAddr, .cgroupUDP6Recvmsg),
        plain("cgroup/recvmsg_unix", .cgroupSockAddr, .cgroupUnixRecvmsg),
        plain("cgroup/getpeername4", .cgroupSockAddr, .cgroupINet4Getpeername),
        plain("cgroup/getpeername6", .cgroupSockAddr, .cgroupINet6Getpeername),
        plain("cgroup/getpeername_unix", .cgroupSockAddr, .cgroupUnixGetpeername),
        plain("cgroup/getsockname4", .cgroupSockAddr, .cgroupINet4Getsockname),
        plain("cgroup/getsockname6", .cgroupSockAddr, .cgroupINet6Getsockname),
        plain("cgroup/getsockname_unix", .cgroupSockAddr, .cgroupUnixGetsockname),
        plain("cgroup/sysctl", .cgroupSysctl, .cgroupSysctl),
        plain("cgroup/getsockopt", .cgroupSockopt, .cgroupGetsockopt),
        plain("cgroup/setsockopt", .cgroupSockopt, .cgroupSetsockopt),
        plain("cgroup/dev", .cgroupDevice, .cgroupDevice),
        withTarget("struct_ops", .structOps),
        withTarget("struct_ops.s", .structOps, nil, .sleepable),
        plain("sk_lookup", .skLookup, .skLookup),
        plain("netfilter", .netfilter, .netfilter),
    ]
}
