// SPDX-License-Identifier: (MIT OR GPL-2.0)
// Programs attachAll() places by their section names on any kernel with tracepoints and uprobes:
// a syscall tracepoint and a uprobe on a function of the running test binary. Both count calls of
// one thread (target_tid, set through the generated typed setter before load) and send an event
// through a ring buffer. The event struct is used only through the reservation, so the global
// below keeps its BTF (the idiom bpf2swift's -type error suggests). The XDP program needs an
// interface, so attachAll() skips it.

#include "../../../Examples/include/ebpf_helpers.h"

enum event_kind {
	EVENT_TRACEPOINT = 1,
	EVENT_UPROBE = 2,
};

struct event {
	__u32 tid;
	enum event_kind kind;
	__u64 sequence;
	char comm[16];
};

// Gives struct event BTF without changing the ring buffer map, which libbpf 1.1 would refuse
// with a value type.
const struct event *unused_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} events SEC(".maps");

const volatile __u32 target_tid = 0;

__u64 tracepoint_hits = 0;
__u64 uprobe_hits = 0;

static __always_inline int record(__u64 *counter, enum event_kind kind)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	if (tid != target_tid)
		return 0;
	__sync_fetch_and_add(counter, 1);
	__u64 sequence = *counter;
	struct event *event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
	if (!event)
		return 0;
	event->tid = tid;
	event->kind = kind;
	event->sequence = sequence;
	bpf_get_current_comm(event->comm, sizeof(event->comm));
	bpf_ringbuf_submit(event, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int count_getppid(void *context)
{
	return record(&tracepoint_hits, EVENT_TRACEPOINT);
}

SEC("uprobe//proc/self/exe:swift_ebpf_autoattach_target")
int count_target_calls(void *context)
{
	return record(&uprobe_hits, EVENT_UPROBE);
}

SEC("xdp")
int pass_packets(void *context)
{
	// XDP_PASS, from the "defines" of Tests/BPF2SwiftTests/bpf2swift.json: without the
	// plugin's configuration this does not compile.
	return AUTOATTACH_XDP_VERDICT;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
