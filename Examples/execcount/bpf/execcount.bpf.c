// SPDX-License-Identifier: (MIT OR GPL-2.0)
// The classic exec counter: one u64 in a legacy array map, incremented on every execve.

#include "../../include/ebpf_helpers.h"

struct bpf_map_def SEC("maps") kprobe_map = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 1,
};

static __always_inline void count_exec(void)
{
	__u32 key = 0;
	__u64 first = 1;
	__u64 *count = bpf_map_lookup_elem(&kprobe_map, &key);
	if (!count) {
		bpf_map_update_elem(&kprobe_map, &key, &first, BPF_ANY);
		return;
	}
	__sync_fetch_and_add(count, 1);
}

SEC("kprobe/sys_execve")
int kprobe_execve(void *ctx)
{
	count_exec();
	return 0;
}

// The same count from the syscall tracepoint, for kernels built without kprobes.
SEC("tracepoint/syscalls/sys_enter_execve")
int tracepoint_execve(void *ctx)
{
	count_exec();
	return 0;
}

char __license[] SEC("license") = "Dual MIT/GPL";
