// cflags:
/* 64-bit map attributes declared with __ulong, as libbpf 1.4 does for map_extra:
 * an arena at a fixed user address (an enum64 value) and a bloom filter whose
 * hash count fits a plain enum. */
#include "bpf_defs.h"

char _license[] SEC("license") = "GPL";

struct {
	__uint(type, 33); /* BPF_MAP_TYPE_ARENA */
	__uint(map_flags, 1 << 10); /* BPF_F_MMAPABLE */
	__uint(max_entries, 4); /* pages */
	__ulong(map_extra, 0x1ull << 44);
} arena SEC(".maps");

struct {
	__uint(type, 30); /* BPF_MAP_TYPE_BLOOM_FILTER */
	__type(value, __u32);
	__uint(max_entries, 64);
	__ulong(map_extra, 3);
} seen SEC(".maps");

SEC("socket")
int check(void *ctx)
{
	return 0;
}
