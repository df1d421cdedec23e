// cflags:
/* BTF-defined maps in ".maps": hash, array, per-CPU array, ring buffer, LRU with pinning. */
#include "bpf_defs.h"

char _license[] SEC("license") = "GPL";

struct event {
	__u32 pid;
	__u64 timestamp;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} start_times SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct event);
} last_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} per_cpu_counter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, __u64);
	__type(value, __u32);
} pinned_lru SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_execve")
int record_execve(void *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u64 now = bpf_ktime_get_ns();
	bpf_map_update_elem(&start_times, &pid, &now, BPF_ANY);

	__u32 zero = 0;
	__u64 *counter = bpf_map_lookup_elem(&per_cpu_counter, &zero);
	if (counter)
		*counter += 1;

	struct event *slot = bpf_map_lookup_elem(&last_events, &zero);
	if (slot) {
		slot->pid = pid;
		slot->timestamp = now;
		bpf_get_current_comm(slot->comm, sizeof(slot->comm));
		bpf_ringbuf_output(&events, slot, sizeof(*slot), 0);
	}

	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 *seen = bpf_map_lookup_elem(&pinned_lru, &pid_tgid);
	if (seen)
		bpf_map_delete_elem(&pinned_lru, &pid_tgid);
	return 0;
}
