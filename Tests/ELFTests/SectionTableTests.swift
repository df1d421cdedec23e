import EBPFCollection
import EBPFELF
import Testing
import TestSupport

@Suite("Program sections", .checksFileDescriptorLeaks)
struct SectionTableTests {
    struct Expected: Sendable, CustomStringConvertible {
        var program: String
        var type: ProgramType
        var attachType: AttachType?
        var target: String?
        var flags: ProgramFlags = []
        var description: String { program }
    }

    static let expected: [Expected] = [
        Expected(program: "on_unlink", type: .kprobe, target: "do_unlinkat"),
        Expected(program: "on_unlink_return", type: .kprobe, target: "do_unlinkat"),
        Expected(program: "on_readline", type: .kprobe, target: "/usr/bin/bash:readline", flags: .sleepable),
        Expected(program: "on_openat", type: .kprobe, target: "openat"),
        Expected(program: "on_vfs", type: .kprobe, attachType: .traceKprobeMulti, target: "vfs_*"),
        Expected(program: "on_setjmp", type: .kprobe, target: "libc.so.6:libc:setjmp"),
        Expected(program: "on_exec", type: .tracepoint, target: "sched/sched_process_exec"),
        Expected(program: "on_raw_writable", type: .rawTracepointWritable, target: "bpf_test_finish"),
        Expected(program: "on_wakeup", type: .tracing, attachType: .traceRawTp, target: "sched_wakeup"),
        Expected(program: "on_open_sleepable", type: .tracing, attachType: .traceFEntry, target: "do_sys_open", flags: .sleepable),
        Expected(program: "on_file_open", type: .tracing, attachType: .modifyReturn, target: "security_file_open"),
        Expected(program: "on_lsm_bpf", type: .lsm, attachType: .lsmMAC, target: "bpf"),
        Expected(program: "on_lsm_cgroup", type: .lsm, attachType: .lsmCgroup, target: "socket_bind"),
        Expected(program: "on_task", type: .tracing, attachType: .traceIter, target: "task"),
        Expected(program: "replacement", type: .ext, target: "handler"),
        Expected(program: "on_xdp_frags", type: .xdp, attachType: .xdp, flags: .xdpHasFragments),
        Expected(program: "on_devmap", type: .xdp, attachType: .xdpDevmap),
        Expected(program: "on_tc", type: .schedCls),
        Expected(program: "on_tcx_ingress", type: .schedCls, attachType: .tcxIngress),
        Expected(program: "on_netkit_peer", type: .schedCls, attachType: .netkitPeer),
        Expected(program: "on_cgroup_egress", type: .cgroupSKB, attachType: .cgroupINetEgress),
        Expected(program: "on_connect4", type: .cgroupSockAddr, attachType: .cgroupINet4Connect),
        Expected(program: "on_getsockopt", type: .cgroupSockopt, attachType: .cgroupGetsockopt),
        Expected(program: "on_sockops", type: .sockOps, attachType: .cgroupSockOps),
        Expected(program: "on_stream_parser", type: .skSKB, attachType: .skSKBStreamParser),
        Expected(program: "on_sk_msg", type: .skMsg, attachType: .skMsgVerdict),
        Expected(program: "on_sk_lookup", type: .skLookup, attachType: .skLookup),
        Expected(program: "on_migrate", type: .skReuseport, attachType: .skReuseportSelectOrMigrate),
        Expected(program: "on_flow", type: .flowDissector, attachType: .flowDissector),
        Expected(program: "on_lwt_xmit", type: .lwtXmit),
        Expected(program: "on_lirc", type: .lircMode2, attachType: .lircMode2),
        Expected(program: "on_perf_event", type: .perfEvent),
        Expected(program: "from_syscall", type: .syscall, flags: .sleepable),
        Expected(program: "on_netfilter", type: .netfilter, attachType: .netfilter),
        Expected(program: "unknown_kind", type: .unspec),
        Expected(program: "first_filter", type: .socketFilter),
        Expected(program: "second_filter", type: .socketFilter),
    ]

    @Test(arguments: ["el", "eb"])
    func everyProgramOfTheObject(order: String) throws {
        let spec = try CollectionSpec(elfFile: TestData.path("sections-\(order).o"))
        #expect(Set(spec.programs.keys) == Set(Self.expected.map(\.program)))
        for expected in Self.expected {
            let program = try #require(spec.programs[expected.program])
            #expect(program.type == expected.type, "\(expected)")
            #expect(program.attachType == expected.attachType, "\(expected)")
            #expect(program.attachTarget == expected.target, "\(expected)")
            #expect(program.flags == expected.flags, "\(expected)")
        }
        // Two programs share "socket"; the string literal and the static array make data maps.
        #expect(spec.programs["first_filter"]?.sectionName == "socket")
        #expect(spec.programs["second_filter"]?.sectionName == "socket")
        #expect(spec.maps[".rodata.str1.1"]?.flags == .readOnlyProgram)
        guard case .bytes(let bytes)? = spec.maps[".rodata.str1.1"]?.contents.first?.value else {
            Issue.record("no .rodata.str1.1 contents")
            return
        }
        #expect(bytes == Array("a string literal\0".utf8))
    }
}
