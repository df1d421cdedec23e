// cflags:
/* BTF-defined maps of many types, each declared with BTF key and value types where the type has
 * them, and a program array with a key type and initial values (`.values`), which has no value
 * type: the loader must not send a key type id without a value type id. */
#include "bpf_defs.h"

char _license[] SEC("license") = "GPL";

#define BPF_F_NO_PREALLOC 1

struct lpm_key {
	__u32 prefix_length;
	__u32 address;
};

#define MAP(map_name, map_type, key_type, value_type, entries, flags) \
	struct { \
		__uint(type, map_type); \
		__uint(max_entries, entries); \
		__uint(map_flags, flags); \
		__type(key, key_type); \
		__type(value, value_type); \
	} map_name SEC(".maps")

MAP(hash_map, 1, __u32, __u64, 4, 0);
MAP(array_map, 2, __u32, __u64, 4, 0);
MAP(perf_event_array_map, 4, __u32, __u32, 4, 0);
MAP(percpu_hash_map, 5, __u32, __u64, 4, 0);
MAP(percpu_array_map, 6, __u32, __u64, 4, 0);
MAP(stack_trace_map, 7, __u32, __u64[127], 4, 0);
MAP(cgroup_array_map, 8, __u32, __u32, 4, 0);
MAP(lru_hash_map, 9, __u32, __u64, 4, 0);
MAP(lru_percpu_hash_map, 10, __u32, __u64, 4, 0);
MAP(lpm_trie_map, 11, struct lpm_key, __u32, 4, BPF_F_NO_PREALLOC);
MAP(devmap_map, 14, __u32, __u32, 4, 0);
MAP(sockmap_map, 15, __u32, __u64, 4, 0);
MAP(cpumap_map, 16, __u32, __u32, 4, 0);
MAP(xskmap_map, 17, __u32, __u32, 4, 0);
MAP(sockhash_map, 18, __u32, __u64, 4, 0);
MAP(reuseport_map, 20, __u32, __u64, 4, 0);
MAP(sk_storage_map, 24, int, __u64, 0, BPF_F_NO_PREALLOC);
MAP(devmap_hash_map, 25, __u32, __u32, 4, 0);
MAP(task_storage_map, 29, int, __u64, 0, BPF_F_NO_PREALLOC);

struct {
	__uint(type, 22); /* BPF_MAP_TYPE_QUEUE: no key */
	__uint(max_entries, 4);
	__type(value, __u32);
} queue_map SEC(".maps");

struct {
	__uint(type, 30); /* BPF_MAP_TYPE_BLOOM_FILTER: no key */
	__uint(max_entries, 4);
	__type(value, __u32);
} bloom_map SEC(".maps");

int tail_target(struct __sk_buff *skb);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, int(void *));
} typed_jump_table SEC(".maps") = {
	.values = { [1] = (void *)&tail_target },
};

SEC("socket")
int tail_target(struct __sk_buff *skb)
{
	return 7;
}

SEC("socket")
int jump(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &typed_jump_table, 1);
	return 0;
}
