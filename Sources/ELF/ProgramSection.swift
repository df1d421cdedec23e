import EBPFCollection

/// What a program's ELF section name says about it: program type, expected attach type, load
/// flags and attach target. The table is libbpf's (`section_defs` in `libbpf.c`, 1.5), so an
/// object means the same here as under libbpf.
///
/// Matching follows libbpf 1.x: an entry written `name+` matches `name` exactly or `name/...`
/// (the part after the slash is the attach target); any other entry matches exactly. The first
/// match in table order wins, so `xdp.frags/devmap` is tried before `xdp.frags`. A section that
/// matches nothing gives ``ProgramType/unspec``, which the kernel refuses at load time, exactly as
/// libbpf leaves it at open time.
///
/// Where cilium/ebpf differs, this follows libbpf:
/// - Older cilium/ebpf releases matched legacy prefixes that libbpf 1.0 dropped (`socket/foo`,
///   `xdp/foo`, `classifier/foo`, `kprobe` with anything after it): here they are unknown
///   sections, as in libbpf 1.x.
/// - cilium/ebpf leaves the expected attach type of `xdp` and the `sk_skb/*`, `sk_msg`,
///   `lirc_mode2`, `flow_dissector`, `sockops` and `cgroup/dev` sections empty in some releases;
///   libbpf sets it (`BPF_XDP`, `BPF_SK_SKB_STREAM_PARSER`, ...) and so do we.
/// - `tc/ingress` and `tc/egress` are libbpf's aliases for `tcx/ingress` and `tcx/egress`.
/// - `syscall` is sleepable (`BPF_F_SLEEPABLE`), as libbpf loads it.
public struct ProgramSection: Sendable, Hashable {
    public var type: ProgramType
    public var attachType: AttachType?
    public var flags: ProgramFlags
    /// The part of the section name after the matched prefix and its slash: the kernel function of
    /// a kprobe or fentry, `group/name` of a tracepoint, `path:function` of a uprobe, the struct_ops
    /// member, ... Nil when the section has none.
    public var attachTarget: String?

    public init(type: ProgramType, attachType: AttachType? = nil, flags: ProgramFlags = [], attachTarget: String? = nil) {
        self.type = type
        self.attachType = attachType
        self.flags = flags
        self.attachTarget = attachTarget
    }

    /// Looks `sectionName` up in libbpf's table; ``ProgramType/unspec`` when it is not there.
    public init(sectionName: String) {
        guard let position = Self.firstMatch(sectionName) else {
            self.init(type: .unspec)
            return
        }
        let definition = Self.table[position]
        let target = definition.match(sectionName) ?? ""
        self.init(
            type: definition.type, attachType: definition.attachType, flags: definition.flags,
            attachTarget: target.isEmpty ? nil : target)
    }

    /// Whether libbpf knows the section name.
    public static func isKnown(_ sectionName: String) -> Bool {
        firstMatch(sectionName) != nil
    }

    /// The table position of the first definition `name` matches. An exact definition can only
    /// match `name` itself and a prefix one `name` or the part of it before one of its slashes, so
    /// a few hash lookups replace trying every definition in turn.
    private static func firstMatch(_ name: String) -> Int? {
        var name = name
        return name.withUTF8 { bytes -> Int? in
            var best = Int.max
            // No pattern is longer than `longestPattern`: longer names and prefixes need no lookup.
            if bytes.count <= longestPattern, let entry = patternIndex[String(decoding: bytes, as: UTF8.self)] {
                best = min(entry.exact ?? .max, entry.prefix ?? .max)
            }
            var slash = 0
            while slash < bytes.count && slash <= longestPattern {
                defer { slash += 1 }
                guard bytes[slash] == UInt8(ascii: "/") else { continue }
                let prefix = UnsafeBufferPointer(rebasing: bytes[..<slash])
                if let position = patternIndex[String(decoding: prefix, as: UTF8.self)]?.prefix {
                    best = min(best, position)
                }
            }
            return best == .max ? nil : best
        }
    }

    private static let longestPattern = table.map { $0.pattern.utf8.count }.max() ?? 0

    /// For each pattern, the first table position of an exact and of a prefix definition with it.
    private static let patternIndex: [String: (exact: Int?, prefix: Int?)] = {
        var index: [String: (exact: Int?, prefix: Int?)] = [:]
        for (position, definition) in table.enumerated() {
            var entry = index[definition.pattern] ?? (nil, nil)
            if definition.takesTarget {
                entry.prefix = entry.prefix ?? position
            } else {
                entry.exact = entry.exact ?? position
            }
            index[definition.pattern] = entry
        }
        return index
    }()

    /// Every pattern of the table, in matching order (`kprobe+`, `xdp`, ...).
    public static var patterns: [String] { table.map { $0.pattern + ($0.takesTarget ? "+" : "") } }

    private struct Definition: Sendable {
        var pattern: String
        var takesTarget: Bool
        var type: ProgramType
        var attachType: AttachType?
        var flags: ProgramFlags

        /// The attach target ("" for none) when `name` matches.
        func match(_ name: String) -> String? {
            if !takesTarget { return name == pattern ? "" : nil }
            guard name.hasPrefix(pattern) else { return nil }
            let rest = name.utf8.dropFirst(pattern.utf8.count)
            guard let first = rest.first else { return "" }
            guard first == UInt8(ascii: "/") else { return nil }
            return String(decoding: rest.dropFirst(), as: UTF8.self)
        }
    }

    private static func exact(_ pattern: String, _ type: ProgramType, _ attachType: AttachType? = nil, _ flags: ProgramFlags = []) -> Definition {
        Definition(pattern: pattern, takesTarget: false, type: type, attachType: attachType, flags: flags)
    }

    private static func prefix(_ pattern: String, _ type: ProgramType, _ attachType: AttachType? = nil, _ flags: ProgramFlags = []) -> Definition {
        Definition(pattern: pattern, takesTarget: true, type: type, attachType: attachType, flags: flags)
    }

    private static let table: [Definition] = [
        exact("socket", .socketFilter),
        exact("sk_reuseport/migrate", .skReuseport, .skReuseportSelectOrMigrate),
        exact("sk_reuseport", .skReuseport, .skReuseportSelect),
        prefix("kprobe", .kprobe),
        prefix("uprobe", .kprobe),
        prefix("uprobe.s", .kprobe, nil, .sleepable),
        prefix("kretprobe", .kprobe),
        prefix("uretprobe", .kprobe),
        prefix("uretprobe.s", .kprobe, nil, .sleepable),
        prefix("kprobe.multi", .kprobe, .traceKprobeMulti),
        prefix("kretprobe.multi", .kprobe, .traceKprobeMulti),
        prefix("kprobe.session", .kprobe, .traceKprobeSession),
        prefix("uprobe.multi", .kprobe, .traceUprobeMulti),
        prefix("uretprobe.multi", .kprobe, .traceUprobeMulti),
        prefix("uprobe.session", .kprobe, .traceUprobeSession),
        prefix("uprobe.multi.s", .kprobe, .traceUprobeMulti, .sleepable),
        prefix("uretprobe.multi.s", .kprobe, .traceUprobeMulti, .sleepable),
        prefix("uprobe.session.s", .kprobe, .traceUprobeSession, .sleepable),
        prefix("ksyscall", .kprobe),
        prefix("kretsyscall", .kprobe),
        prefix("usdt", .kprobe),
        prefix("usdt.s", .kprobe, nil, .sleepable),
        exact("tc/ingress", .schedCls, .tcxIngress),
        exact("tc/egress", .schedCls, .tcxEgress),
        exact("tcx/ingress", .schedCls, .tcxIngress),
        exact("tcx/egress", .schedCls, .tcxEgress),
        exact("tc", .schedCls),
        exact("classifier", .schedCls),
        exact("action", .schedAct),
        exact("netkit/primary", .schedCls, .netkitPrimary),
        exact("netkit/peer", .schedCls, .netkitPeer),
        prefix("tracepoint", .tracepoint),
        prefix("tp", .tracepoint),
        prefix("raw_tracepoint", .rawTracepoint),
        prefix("raw_tp", .rawTracepoint),
        prefix("raw_tracepoint.w", .rawTracepointWritable),
        prefix("raw_tp.w", .rawTracepointWritable),
        prefix("tp_btf", .tracing, .traceRawTp),
        prefix("fentry", .tracing, .traceFEntry),
        prefix("fmod_ret", .tracing, .modifyReturn),
        prefix("fexit", .tracing, .traceFExit),
        prefix("fentry.s", .tracing, .traceFEntry, .sleepable),
        prefix("fmod_ret.s", .tracing, .modifyReturn, .sleepable),
        prefix("fexit.s", .tracing, .traceFExit, .sleepable),
        prefix("freplace", .ext),
        prefix("lsm", .lsm, .lsmMAC),
        prefix("lsm.s", .lsm, .lsmMAC, .sleepable),
        prefix("lsm_cgroup", .lsm, .lsmCgroup),
        prefix("iter", .tracing, .traceIter),
        prefix("iter.s", .tracing, .traceIter, .sleepable),
        exact("syscall", .syscall, nil, .sleepable),
        exact("xdp.frags/devmap", .xdp, .xdpDevmap, .xdpHasFragments),
        exact("xdp/devmap", .xdp, .xdpDevmap),
        exact("xdp.frags/cpumap", .xdp, .xdpCPUMap, .xdpHasFragments),
        exact("xdp/cpumap", .xdp, .xdpCPUMap),
        exact("xdp.frags", .xdp, .xdp, .xdpHasFragments),
        exact("xdp", .xdp, .xdp),
        exact("perf_event", .perfEvent),
        exact("lwt_in", .lwtIn),
        exact("lwt_out", .lwtOut),
        exact("lwt_xmit", .lwtXmit),
        exact("lwt_seg6local", .lwtSeg6Local),
        exact("sockops", .sockOps, .cgroupSockOps),
        exact("sk_skb/stream_parser", .skSKB, .skSKBStreamParser),
        exact("sk_skb/stream_verdict", .skSKB, .skSKBStreamVerdict),
        exact("sk_skb/verdict", .skSKB, .skSKBVerdict),
        exact("sk_skb", .skSKB),
        exact("sk_msg", .skMsg, .skMsgVerdict),
        exact("lirc_mode2", .lircMode2, .lircMode2),
        exact("flow_dissector", .flowDissector, .flowDissector),
        exact("cgroup_skb/ingress", .cgroupSKB, .cgroupINetIngress),
        exact("cgroup_skb/egress", .cgroupSKB, .cgroupINetEgress),
        exact("cgroup/skb", .cgroupSKB),
        exact("cgroup/sock_create", .cgroupSock, .cgroupINetSockCreate),
        exact("cgroup/sock_release", .cgroupSock, .cgroupINetSockRelease),
        exact("cgroup/sock", .cgroupSock, .cgroupINetSockCreate),
        exact("cgroup/post_bind4", .cgroupSock, .cgroupINet4PostBind),
        exact("cgroup/post_bind6", .cgroupSock, .cgroupINet6PostBind),
        exact("cgroup/bind4", .cgroupSockAddr, .cgroupINet4Bind),
        exact("cgroup/bind6", .cgroupSockAddr, .cgroupINet6Bind),
        exact("cgroup/connect4", .cgroupSockAddr, .cgroupINet4Connect),
        exact("cgroup/connect6", .cgroupSockAddr, .cgroupINet6Connect),
        exact("cgroup/connect_unix", .cgroupSockAddr, .cgroupUnixConnect),
        exact("cgroup/sendmsg4", .cgroupSockAddr, .cgroupUDP4Sendmsg),
        exact("cgroup/sendmsg6", .cgroupSockAddr, .cgroupUDP6Sendmsg),
        exact("cgroup/sendmsg_unix", .cgroupSockAddr, .cgroupUnixSendmsg),
        exact("cgroup/recvmsg4", .cgroupSockAddr, .cgroupUDP4Recvmsg),
        exact("cgroup/recvmsg6", .cgroupSockAddr, .cgroupUDP6Recvmsg),
        exact("cgroup/recvmsg_unix", .cgroupSockAddr, .cgroupUnixRecvmsg),
        exact("cgroup/getpeername4", .cgroupSockAddr, .cgroupINet4Getpeername),
        exact("cgroup/getpeername6", .cgroupSockAddr, .cgroupINet6Getpeername),
        exact("cgroup/getpeername_unix", .cgroupSockAddr, .cgroupUnixGetpeername),
        exact("cgroup/getsockname4", .cgroupSockAddr, .cgroupINet4Getsockname),
        exact("cgroup/getsockname6", .cgroupSockAddr, .cgroupINet6Getsockname),
        exact("cgroup/getsockname_unix", .cgroupSockAddr, .cgroupUnixGetsockname),
        exact("cgroup/sysctl", .cgroupSysctl, .cgroupSysctl),
        exact("cgroup/getsockopt", .cgroupSockopt, .cgroupGetsockopt),
        exact("cgroup/setsockopt", .cgroupSockopt, .cgroupSetsockopt),
        exact("cgroup/dev", .cgroupDevice, .cgroupDevice),
        prefix("struct_ops", .structOps),
        prefix("struct_ops.s", .structOps, nil, .sleepable),
        exact("sk_lookup", .skLookup, .skLookup),
        exact("netfilter", .netfilter, .netfilter),
    ]
}
