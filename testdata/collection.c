// cflags:
/* A multi-program object the way real tools are shaped, for the collection-load benchmark:
 * six programs of five types sharing BTF maps (hash, LRU hash, array, per-CPU array, ring buffer)
 * and global data (.rodata, .data, .bss), with static and global subprograms and a bpf_loop
 * callback. Every program loads on the host kernel, with this library and with libbpf. */
#include "bpf_defs.h"

char _license[] SEC("license") = "GPL";

struct flow_key {
	__u32 protocol;
	__u32 length_bucket;
};

struct flow_stats {
	__u64 packets;
	__u64 bytes;
	__u64 last_seen;
};

struct sample {
	__u64 pid_tgid;
	__u64 timestamp;
	__u32 cpu;
	__u32 kind;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct flow_key);
	__type(value, struct flow_stats);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u64);
} recent_tasks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} histogram SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} per_cpu_totals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 65536);
} samples SEC(".maps");

volatile const __u32 sample_every = 8;   /* .rodata */
volatile const __u32 length_shift = 6;   /* .rodata */
__u32 drop_protocol = 0xffff;            /* .data */
__u64 total_events;                      /* .bss */
__u64 loop_sum;                          /* .bss */

static __noinline __u32 bucket_of(__u64 value)
{
	__u32 bucket = 0;
	for (int step = 0; step < 15; step++) {
		if (value <= 1)
			break;
		value >>= 1;
		bucket++;
	}
	return bucket;
}

static __noinline void count_in(void *map, __u32 index)
{
	__u64 *slot = bpf_map_lookup_elem(map, &index);
	if (slot)
		__sync_fetch_and_add(slot, 1);
}

__noinline int account_flow(__u32 protocol, __u32 length)
{
	struct flow_key key = { .protocol = protocol, .length_bucket = length >> length_shift };
	struct flow_stats *stats = bpf_map_lookup_elem(&flows, &key);
	if (!stats) {
		struct flow_stats fresh = { .packets = 1, .bytes = length, .last_seen = bpf_ktime_get_ns() };
		bpf_map_update_elem(&flows, &key, &fresh, BPF_NOEXIST);
		return 0;
	}
	__sync_fetch_and_add(&stats->packets, 1);
	__sync_fetch_and_add(&stats->bytes, length);
	stats->last_seen = bpf_ktime_get_ns();
	return stats->packets > 1000 ? 1 : 0;
}

static __noinline void emit_sample(__u32 kind)
{
	struct sample *entry = bpf_ringbuf_reserve(&samples, sizeof(*entry), 0);
	if (!entry)
		return;
	entry->pid_tgid = bpf_get_current_pid_tgid();
	entry->timestamp = bpf_ktime_get_ns();
	entry->cpu = bpf_get_smp_processor_id();
	entry->kind = kind;
	bpf_get_current_comm(entry->comm, sizeof(entry->comm));
	bpf_ringbuf_submit(entry, 0);
}

static long sum_index(__u32 index, void *ctx)
{
	loop_sum += index;
	return 0;
}

SEC("socket")
int socket_flows(struct __sk_buff *skb)
{
	if (skb->protocol == drop_protocol)
		return 0;
	account_flow(skb->protocol, skb->len);
	count_in(&histogram, bucket_of(skb->len));
	return -1;
}

SEC("xdp")
int xdp_count(void *ctx)
{
	count_in(&per_cpu_totals, 0);
	bpf_loop(4, sum_index, NULL, 0);
	return 2; /* XDP_PASS */
}

SEC("tc")
int tc_classify(struct __sk_buff *skb)
{
	__u32 verdict = account_flow(skb->protocol, skb->len);
	count_in(&per_cpu_totals, 1);
	if (verdict)
		skb->mark = 1;
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_write")
int trace_write(void *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 now = bpf_ktime_get_ns();
	bpf_map_update_elem(&recent_tasks, &pid_tgid, &now, BPF_ANY);
	__sync_fetch_and_add(&total_events, 1);
	if (bpf_get_prandom_u32() % sample_every == 0)
		emit_sample(1);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int trace_exit(void *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 *started = bpf_map_lookup_elem(&recent_tasks, &pid_tgid);
	if (started) {
		count_in(&histogram, bucket_of(bpf_ktime_get_ns() - *started));
		bpf_map_delete_elem(&recent_tasks, &pid_tgid);
	}
	emit_sample(2);
	return 0;
}

SEC("perf_event")
int perf_sample(void *ctx)
{
	count_in(&per_cpu_totals, 2);
	if (bpf_get_prandom_u32() % sample_every == 0)
		emit_sample(3);
	return 0;
}
