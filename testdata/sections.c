// cflags:
/* Many program types from libbpf's section names, two programs in one section, an unknown section
 * and a string literal in .rodata.str1.1. */
#include "bpf_defs.h"

char _license[] SEC("license") = "GPL";

#define PROGRAM(section, name) SEC(section) int name(void *ctx) { return 0; }

PROGRAM("kprobe/do_unlinkat", on_unlink)
PROGRAM("kretprobe/do_unlinkat", on_unlink_return)
PROGRAM("uprobe.s//usr/bin/bash:readline", on_readline)
PROGRAM("ksyscall/openat", on_openat)
PROGRAM("kprobe.multi/vfs_*", on_vfs)
PROGRAM("usdt/libc.so.6:libc:setjmp", on_setjmp)
PROGRAM("tp/sched/sched_process_exec", on_exec)
PROGRAM("raw_tp.w/bpf_test_finish", on_raw_writable)
PROGRAM("tp_btf/sched_wakeup", on_wakeup)
PROGRAM("fentry.s/do_sys_open", on_open_sleepable)
PROGRAM("fmod_ret/security_file_open", on_file_open)
PROGRAM("lsm/bpf", on_lsm_bpf)
PROGRAM("lsm_cgroup/socket_bind", on_lsm_cgroup)
PROGRAM("iter/task", on_task)
PROGRAM("freplace/handler", replacement)
PROGRAM("xdp.frags", on_xdp_frags)
PROGRAM("xdp/devmap", on_devmap)
PROGRAM("tc", on_tc)
PROGRAM("tcx/ingress", on_tcx_ingress)
PROGRAM("netkit/peer", on_netkit_peer)
PROGRAM("cgroup_skb/egress", on_cgroup_egress)
PROGRAM("cgroup/connect4", on_connect4)
PROGRAM("cgroup/getsockopt", on_getsockopt)
PROGRAM("sockops", on_sockops)
PROGRAM("sk_skb/stream_parser", on_stream_parser)
PROGRAM("sk_msg", on_sk_msg)
PROGRAM("sk_lookup", on_sk_lookup)
PROGRAM("sk_reuseport/migrate", on_migrate)
PROGRAM("flow_dissector", on_flow)
PROGRAM("lwt_xmit", on_lwt_xmit)
PROGRAM("lirc_mode2", on_lirc)
PROGRAM("perf_event", on_perf_event)
PROGRAM("syscall", from_syscall)
PROGRAM("netfilter", on_netfilter)
PROGRAM("my_custom_section", unknown_kind)

SEC("socket")
int first_filter(struct __sk_buff *skb)
{
	static const char message[] = "first %d";
	bpf_trace_printk(message, sizeof(message), skb->len);
	return 0;
}

SEC("socket")
int second_filter(struct __sk_buff *skb)
{
	const char *text = "a string literal";
	return text[skb->len & 7];
}
