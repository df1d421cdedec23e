// SPDX-License-Identifier: (MIT OR GPL-2.0)
// Maps keyed and valued by the types of layout_types.h, global variables of each data section,
// and names bpf2swift must rename. The socket filter counts the packets it sees.

#include "../../../Examples/include/ebpf_helpers.h"
#include "layout_types.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, struct flow_key);
	__type(value, struct flow_value);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct shapes);
} shape_store SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct with_anonymous);
} anonymous_values SEC(".maps");

volatile const __u32 packet_mark = 7;
__u64 packet_count;
__u64 packetCount_total;
struct padded last_padded = {1, 2, 3};
// Names Swift needs changed: a keyword, and two that camel-case to the same name.
__u32 repeat = 3;
__u32 flow_count;
__u32 flowCount;

SEC("socket")
int count_packets(void *ctx)
{
	__u32 zero = 0;
	struct flow_key key = {.pid = packet_mark};
	struct flow_value *value = bpf_map_lookup_elem(&flows, &key);
	if (value)
		__sync_fetch_and_add(&value->count, 1);
	struct shapes *shapes = bpf_map_lookup_elem(&shape_store, &zero);
	if (shapes)
		shapes->corners[1].y += 1;
	struct with_anonymous *anonymous = bpf_map_lookup_elem(&anonymous_values, &zero);
	if (anonymous)
		anonymous->b += repeat;
	__sync_fetch_and_add(&packet_count, 1);
	last_padded.s = packet_mark;
	flow_count += 1;
	flowCount += 2;
	packetCount_total += 1;
	return 0;
}

char __license[] SEC("license") = "Dual MIT/GPL";
