// cflags: -fdebug-compilation-dir=.
/* (With the compilation directory ".", clang finds this file again and puts the source lines
 * into the line info; under build.sh's default "testdata" they would be empty.) */
/* Maps with typed keys and values for introspection: a hash of structs (with an enum, a char
 * array, a nested struct and a bitfield), a per-CPU array, an array of maps; a program with a
 * name longer than the kernel keeps, and a subprogram, so func and line info show in dumps. */
#include "bpf_defs.h"

char _license[] SEC("license") = "GPL";

enum flow_state { FLOW_NEW = 1, FLOW_OPEN = 2, FLOW_CLOSED = 7 };

struct flow_key {
	__u32 address;
	__u16 port;
	__u16 protocol;
};

struct flow_counters {
	__u64 packets;
	__u64 bytes;
};

struct flow_value {
	enum flow_state state;
	char label[8];
	struct flow_counters counters;
	__u32 priority : 4;
	__u32 marked : 1;
	__s32 delta;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, struct flow_key);
	__type(value, struct flow_value);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} cpu_hits SEC(".maps");

struct inner_counts {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} inner_first SEC(".maps"), inner_second SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 3);
	__type(key, __u32);
	__array(values, struct inner_counts);
} tables SEC(".maps") = {
	.values = { [0] = &inner_first, [2] = &inner_second },
};

static __noinline __u64 count_hit(__u32 slot)
{
	__u64 *hits = bpf_map_lookup_elem(&cpu_hits, &slot);
	if (!hits)
		return 0;
	*hits += 1;
	return *hits;
}

SEC("socket")
int introspect_flow_counter(struct __sk_buff *skb)
{
	struct flow_key key = { .address = skb->mark, .port = (__u16)skb->len, .protocol = 6 };
	struct flow_value *value = bpf_map_lookup_elem(&flows, &key);
	__u32 zero = 0;
	void *inner = bpf_map_lookup_elem(&tables, &zero);

	if (value)
		value->counters.packets += 1;
	if (inner)
		bpf_map_lookup_elem(inner, &zero);
	return (int)count_hit(skb->len & 1);
}
