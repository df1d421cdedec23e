// cflags:
/* BTF maps with every attribute: a map of maps and a program array with initial values, sizes
 * given as numbers, flags, NUMA node and map_extra (a bloom filter's hash count). */
#include "bpf_defs.h"

char _license[] SEC("license") = "GPL";

#define BPF_MAP_TYPE_BLOOM_FILTER 30
#define BPF_F_NO_PREALLOC 1
#define BPF_F_NUMA_NODE 4

struct inner_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner_map);
} outer SEC(".maps") = {
	.values = { [0] = &inner_a, [2] = &inner_b },
};

int tail_one(struct __sk_buff *skb);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__uint(key_size, sizeof(__u32));
	__array(values, int(void *));
} jump_table SEC(".maps") = {
	.values = { [1] = (void *)&tail_one },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 128);
	__uint(key_size, 8);
	__uint(value_size, 16);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_NUMA_NODE);
	__uint(numa_node, 1);
} sized SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 100);
	__type(value, __u32);
	__uint(map_extra, 3);
} bloom SEC(".maps");

SEC("socket")
int tail_one(struct __sk_buff *skb)
{
	return 1;
}

SEC("socket")
int dispatch(struct __sk_buff *skb)
{
	__u32 zero = 0;
	void *inner = bpf_map_lookup_elem(&outer, &zero);
	if (!inner)
		return 0;
	__u64 key = skb->len;
	if (bpf_map_lookup_elem(&sized, &key))
		return 2;
	bpf_tail_call(skb, &jump_table, 1);
	return 0;
}
