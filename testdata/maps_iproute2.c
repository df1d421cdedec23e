// cflags:
/* iproute2's legacy bpf_elf_map entries (36 bytes) in "maps": pinning and an inner map by id. */
#include "bpf_defs.h"

char _license[] SEC("license") = "GPL";

struct bpf_elf_map {
	__u32 type;
	__u32 size_key;
	__u32 size_value;
	__u32 max_elem;
	__u32 flags;
	__u32 id;
	__u32 pinning;
	__u32 inner_id;
	__u32 inner_idx;
};

#define PIN_OBJECT_NS 1
#define PIN_GLOBAL_NS 2

struct bpf_elf_map SEC("maps") flow_counts = {
	.type = BPF_MAP_TYPE_HASH,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u64),
	.max_elem = 256,
	.flags = 1, /* BPF_F_NO_PREALLOC */
	.pinning = PIN_GLOBAL_NS,
};

struct bpf_elf_map SEC("maps") inner_template = {
	.type = BPF_MAP_TYPE_ARRAY,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u32),
	.max_elem = 1,
	.id = 42,
};

struct bpf_elf_map SEC("maps") outer = {
	.type = BPF_MAP_TYPE_ARRAY_OF_MAPS,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u32),
	.max_elem = 4,
	.inner_id = 42,
	.pinning = PIN_OBJECT_NS,
};

SEC("classifier")
int count_flows(struct __sk_buff *skb)
{
	__u32 key = skb->mark;
	__u64 *count = bpf_map_lookup_elem(&flow_counts, &key);
	if (count)
		__sync_fetch_and_add(count, 1);
	__u32 zero = 0;
	void *inner = bpf_map_lookup_elem(&outer, &zero);
	return inner ? 0 : 1;
}
