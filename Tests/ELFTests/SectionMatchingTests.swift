import EBPFCollection
import EBPFELF
import Testing

/// Pins the section-name table: its entries in order, and cilium/ebpf's matching rule (plain
/// patterns match by prefix, `name+` patterns by the part before the first slash, first match in
/// table order wins).
@Suite("Section-name matching")
struct SectionMatchingTests {
    struct Entry: Sendable, CustomStringConvertible {
        var pattern: String
        var type: ProgramType
        var attachType: AttachType?
        var flags: ProgramFlags
        init(_ pattern: String, _ type: ProgramType, _ attachType: AttachType?, _ flags: ProgramFlags) {
            (self.pattern, self.type, self.attachType, self.flags) = (pattern, type, attachType, flags)
        }
        var takesTarget: Bool { pattern.hasSuffix("+") }
        var bare: String { takesTarget ? String(pattern.dropLast()) : pattern }
        var description: String { pattern }

        func isMatched(by section: ProgramSection) -> Bool {
            section.type == type && section.attachType == attachType && section.flags == flags
        }
    }

    /// libbpf's `section_defs` as cilium/ebpf's `elf_sections.go` (HEAD of 2026-07) lists them.
    static let table: [Entry] = [
        Entry("socket", .socketFilter, nil, []),
        Entry("sk_reuseport/migrate", .skReuseport, .skReuseportSelectOrMigrate, []),
        Entry("sk_reuseport", .skReuseport, .skReuseportSelect, []),
        Entry("kprobe+", .kprobe, nil, []),
        Entry("uprobe+", .kprobe, nil, []),
        Entry("uprobe.s+", .kprobe, nil, .sleepable),
        Entry("kretprobe+", .kprobe, nil, []),
        Entry("uretprobe+", .kprobe, nil, []),
        Entry("uretprobe.s+", .kprobe, nil, .sleepable),
        Entry("kprobe.multi+", .kprobe, .traceKprobeMulti, []),
        Entry("kretprobe.multi+", .kprobe, .traceKprobeMulti, []),
        Entry("kprobe.session+", .kprobe, .traceKprobeSession, []),
        Entry("uprobe.multi+", .kprobe, .traceUprobeMulti, []),
        Entry("uretprobe.multi+", .kprobe, .traceUprobeMulti, []),
        Entry("uprobe.session+", .kprobe, .traceUprobeSession, []),
        Entry("uprobe.multi.s+", .kprobe, .traceUprobeMulti, .sleepable),
        Entry("uretprobe.multi.s+", .kprobe, .traceUprobeMulti, .sleepable),
        Entry("uprobe.session.s+", .kprobe, .traceUprobeSession, .sleepable),
        Entry("ksyscall+", .kprobe, nil, []),
        Entry("kretsyscall+", .kprobe, nil, []),
        Entry("usdt+", .kprobe, nil, []),
        Entry("usdt.s+", .kprobe, nil, .sleepable),
        Entry("tc/ingress", .schedCls, .tcxIngress, []),
        Entry("tc/egress", .schedCls, .tcxEgress, []),
        Entry("tcx/ingress", .schedCls, .tcxIngress, []),
        Entry("tcx/egress", .schedCls, .tcxEgress, []),
        Entry("tc", .schedCls, nil, []),
        Entry("classifier", .schedCls, nil, []),
        Entry("action", .schedAct, nil, []),
        Entry("netkit/primary", .schedCls, .netkitPrimary, []),
        Entry("netkit/peer", .schedCls, .netkitPeer, []),
        Entry("tracepoint+", .tracepoint, nil, []),
        Entry("tp+", .tracepoint, nil, []),
        Entry("raw_tracepoint+", .rawTracepoint, nil, []),
        Entry("raw_tp+", .rawTracepoint, nil, []),
        Entry("raw_tracepoint.w+", .rawTracepointWritable, nil, []),
        Entry("raw_tp.w+", .rawTracepointWritable, nil, []),
        Entry("tp_btf+", .tracing, .traceRawTp, []),
        Entry("fentry+", .tracing, .traceFEntry, []),
        Entry("fmod_ret+", .tracing, .modifyReturn, []),
        Entry("fexit+", .tracing, .traceFExit, []),
        Entry("fentry.s+", .tracing, .traceFEntry, .sleepable),
        Entry("fmod_ret.s+", .tracing, .modifyReturn, .sleepable),
        Entry("fexit.s+", .tracing, .traceFExit, .sleepable),
        Entry("fsession+", .tracing, AttachType(rawValue: 58), []),
        Entry("fsession.s+", .tracing, AttachType(rawValue: 58), .sleepable),
        Entry("freplace+", .ext, nil, []),
        Entry("lsm+", .lsm, .lsmMAC, []),
        Entry("lsm.s+", .lsm, .lsmMAC, .sleepable),
        Entry("lsm_cgroup+", .lsm, .lsmCgroup, []),
        Entry("iter+", .tracing, .traceIter, []),
        Entry("iter.s+", .tracing, .traceIter, .sleepable),
        Entry("syscall", .syscall, nil, .sleepable),
        Entry("xdp.frags/devmap", .xdp, .xdpDevmap, .xdpHasFragments),
        Entry("xdp/devmap", .xdp, .xdpDevmap, []),
        Entry("xdp.frags/cpumap", .xdp, .xdpCPUMap, .xdpHasFragments),
        Entry("xdp/cpumap", .xdp, .xdpCPUMap, []),
        Entry("xdp.frags", .xdp, .xdp, .xdpHasFragments),
        Entry("xdp", .xdp, .xdp, []),
        Entry("perf_event", .perfEvent, nil, []),
        Entry("lwt_in", .lwtIn, nil, []),
        Entry("lwt_out", .lwtOut, nil, []),
        Entry("lwt_xmit", .lwtXmit, nil, []),
        Entry("lwt_seg6local", .lwtSeg6Local, nil, []),
        Entry("sockops", .sockOps, .cgroupSockOps, []),
        Entry("sk_skb/stream_parser", .skSKB, .skSKBStreamParser, []),
        Entry("sk_skb/stream_verdict", .skSKB, .skSKBStreamVerdict, []),
        Entry("sk_skb/verdict", .skSKB, .skSKBVerdict, []),
        Entry("sk_skb", .skSKB, nil, []),
        Entry("sk_msg", .skMsg, .skMsgVerdict, []),
        Entry("lirc_mode2", .lircMode2, .lircMode2, []),
        Entry("flow_dissector", .flowDissector, .flowDissector, []),
        Entry("cgroup_skb/ingress", .cgroupSKB, .cgroupINetIngress, []),
        Entry("cgroup_skb/egress", .cgroupSKB, .cgroupINetEgress, []),
        Entry("cgroup/skb", .cgroupSKB, nil, []),
        Entry("cgroup/sock_create", .cgroupSock, .cgroupINetSockCreate, []),
        Entry("cgroup/sock_release", .cgroupSock, .cgroupINetSockRelease, []),
        Entry("cgroup/sock", .cgroupSock, .cgroupINetSockCreate, []),
        Entry("cgroup/post_bind4", .cgroupSock, .cgroupINet4PostBind, []),
        Entry("cgroup/post_bind6", .cgroupSock, .cgroupINet6PostBind, []),
        Entry("cgroup/bind4", .cgroupSockAddr, .cgroupINet4Bind, []),
        Entry("cgroup/bind6", .cgroupSockAddr, .cgroupINet6Bind, []),
        Entry("cgroup/connect4", .cgroupSockAddr, .cgroupINet4Connect, []),
        Entry("cgroup/connect6", .cgroupSockAddr, .cgroupINet6Connect, []),
        Entry("cgroup/connect_unix", .cgroupSockAddr, .cgroupUnixConnect, []),
        Entry("cgroup/sendmsg4", .cgroupSockAddr, .cgroupUDP4Sendmsg, []),
        Entry("cgroup/sendmsg6", .cgroupSockAddr, .cgroupUDP6Sendmsg, []),
        Entry("cgroup/sendmsg_unix", .cgroupSockAddr, .cgroupUnixSendmsg, []),
        Entry("cgroup/recvmsg4", .cgroupSockAddr, .cgroupUDP4Recvmsg, []),
        Entry("cgroup/recvmsg6", .cgroupSockAddr, .cgroupUDP6Recvmsg, []),
        Entry("cgroup/recvmsg_unix", .cgroupSockAddr, .cgroupUnixRecvmsg, []),
        Entry("cgroup/getpeername4", .cgroupSockAddr, .cgroupINet4Getpeername, []),
        Entry("cgroup/getpeername6", .cgroupSockAddr, .cgroupINet6Getpeername, []),
        Entry("cgroup/getpeername_unix", .cgroupSockAddr, .cgroupUnixGetpeername, []),
        Entry("cgroup/getsockname4", .cgroupSockAddr, .cgroupINet4Getsockname, []),
        Entry("cgroup/getsockname6", .cgroupSockAddr, .cgroupINet6Getsockname, []),
        Entry("cgroup/getsockname_unix", .cgroupSockAddr, .cgroupUnixGetsockname, []),
        Entry("cgroup/sysctl", .cgroupSysctl, .cgroupSysctl, []),
        Entry("cgroup/getsockopt", .cgroupSockopt, .cgroupGetsockopt, []),
        Entry("cgroup/setsockopt", .cgroupSockopt, .cgroupSetsockopt, []),
        Entry("cgroup/dev", .cgroupDevice, .cgroupDevice, []),
        Entry("struct_ops+", .structOps, nil, []),
        Entry("struct_ops.s+", .structOps, nil, .sleepable),
        Entry("sk_lookup", .skLookup, .skLookup, []),
        Entry("netfilter", .netfilter, .netfilter, []),
    ]

    @Test func tableListsEveryPatternInOrder() {
        #expect(ProgramSection.patterns == Self.table.map(\.pattern))
    }

    /// Each pattern's own name resolves to its entry: no earlier entry shadows one.
    @Test(arguments: table)
    func patternMatchesItsOwnEntry(entry: Entry) {
        let section = ProgramSection(sectionName: entry.bare)
        #expect(entry.isMatched(by: section), "\(entry.bare) gave \(section)")
        #expect(section.attachTarget == nil)
        #expect(entry.isMatched(by: ProgramSection(sectionName: "?" + entry.bare)), "the ? mark is ignored")
    }

    /// `name+`: `name/target` matches with the target; `name` followed by anything but a slash does
    /// not. Plain `name`: anything after it is ignored.
    @Test(arguments: table)
    func whatFollowsThePattern(entry: Entry) {
        let slashed = ProgramSection(sectionName: entry.bare + "/some/target")
        #expect(entry.isMatched(by: slashed), "\(entry.bare)/some/target gave \(slashed)")
        let underscored = ProgramSection(sectionName: entry.bare + "_x")
        if entry.takesTarget {
            let expected = entry.type == .structOps ? nil : "some/target"
            #expect(slashed.attachTarget == expected)
            #expect(underscored.type == .unspec, "\(entry.bare)_x gave \(underscored)")
            #expect(ProgramSection(sectionName: entry.bare + "/").attachTarget == nil)
        } else {
            #expect(slashed.attachTarget == nil)
            #expect(entry.isMatched(by: underscored), "\(entry.bare)_x gave \(underscored)")
        }
    }

    /// Names that match no entry: case matters, and a pattern is never matched in the middle.
    @Test(arguments: table)
    func namesThatDoNotMatch(entry: Entry) {
        #expect(ProgramSection(sectionName: entry.bare.uppercased()).type == .unspec)
        #expect(ProgramSection(sectionName: "x" + entry.bare).type == .unspec)
        #expect(ProgramSection(sectionName: " " + entry.bare).type == .unspec)
    }

    /// The cases where table order decides, and the names cilium/ebpf accepts that libbpf 1.x does
    /// not.
    @Test(arguments: [
        // Plain prefixes (libbpf: unknown; cilium/ebpf's loader tests use socket/2 to socket/4).
        ("socket/2", "socket"), ("socket/4", "socket"), ("socketX", "socket"), ("xdp_foo", "xdp"),
        ("xdp/foo", "xdp"), ("classifier/ingress", "classifier"), ("tcx/foo", "tc"), ("tc_foo", "tc"),
        ("sk_skb/other", "sk_skb"), ("cgroup/skbx", "cgroup/skb"), ("perf_event/1", "perf_event"),
        // Order: the longer entry comes first.
        ("sk_reuseport/migrate", "sk_reuseport/migrate"), ("sk_reuseport/migrate_x", "sk_reuseport/migrate"),
        ("sk_reuseport/select", "sk_reuseport"), ("sk_reuseport", "sk_reuseport"),
        ("xdp.frags/devmap", "xdp.frags/devmap"), ("xdp/devmap", "xdp/devmap"), ("xdp.frags/cpumap", "xdp.frags/cpumap"),
        ("xdp/cpumap", "xdp/cpumap"), ("xdp.frags", "xdp.frags"), ("xdp.frags_x", "xdp.frags"), ("xdp.fragsx/devmap", "xdp.frags"),
        ("xdp", "xdp"), ("xdp.other", "xdp"),
        ("tcx/ingress", "tcx/ingress"), ("tcx/egress", "tcx/egress"), ("tc/ingress", "tc/ingress"), ("tc/egress", "tc/egress"),
        ("tc", "tc"), ("tc/other", "tc"),
        ("cgroup/sock_create", "cgroup/sock_create"), ("cgroup/sock_release", "cgroup/sock_release"), ("cgroup/sock", "cgroup/sock"),
        ("cgroup/sock_ops", "cgroup/sock"),
        ("sk_skb/stream_parser", "sk_skb/stream_parser"), ("sk_skb/verdict", "sk_skb/verdict"),
        ("cgroup_skb/ingress", "cgroup_skb/ingress"),
        // `name+` compares the part before the first slash whole.
        ("kprobe.multi/vfs_*", "kprobe.multi+"), ("kprobe/vfs_read", "kprobe+"), ("uprobe.s//bin/sh:main", "uprobe.s+"),
        ("uretprobe.multi.s/lib:f*", "uretprobe.multi.s+"), ("raw_tp.w/x", "raw_tp.w+"), ("tp_btf/sched_switch", "tp_btf+"),
        ("tp/sched/sched_switch", "tp+"), ("lsm_cgroup/socket_bind", "lsm_cgroup+"), ("lsm.s/bpf", "lsm.s+"),
        ("fsession/f", "fsession+"), ("usdt/lib:provider:name", "usdt+"), ("usdt.s", "usdt.s+"), ("?kprobe/f", "kprobe+"),
    ])
    func orderAndPrefixCases(name: String, pattern: String) throws {
        let entry = try #require(Self.table.first { $0.pattern == pattern })
        let section = ProgramSection(sectionName: name)
        #expect(entry.isMatched(by: section), "\(name) gave \(section), expected \(pattern)")
    }

    @Test(arguments: [
        ("kprobe/do_unlinkat", "do_unlinkat"), ("uprobe//usr/bin/bash:readline", "/usr/bin/bash:readline"),
        ("tracepoint/sched/sched_switch", "sched/sched_switch"), ("kprobe/", nil), ("kprobe", nil),
        ("socket/2", nil), ("xdp/foo", nil), ("struct_ops/init", nil), ("struct_ops.s/x", nil), ("?fentry/f", "f"),
    ] as [(String, String?)])
    func attachTargets(name: String, target: String?) {
        #expect(ProgramSection(sectionName: name).attachTarget == target)
    }

    @Test(arguments: ["kprobex", "kprobe.multix/f", "tpx", "fentryx/f", "", "?", "/kprobe", "maps", ".text", "license", "sk", "cgroup", "cgroup/", "lwt"])
    func unknownNames(name: String) {
        #expect(ProgramSection(sectionName: name).type == .unspec, "\(name)")
        #expect(!ProgramSection.isKnown(name))
    }
}
