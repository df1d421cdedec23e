// cflags:
/* __arena globals with two arena maps: which arena holds them is ambiguous, so
 * the reader refuses the object, as libbpf does. */
#include "bpf_defs.h"

#define __arena __attribute__((address_space(1)))

char _license[] SEC("license") = "GPL";

struct {
	__uint(type, 33); /* BPF_MAP_TYPE_ARENA */
	__uint(map_flags, 1 << 10); /* BPF_F_MMAPABLE */
	__uint(max_entries, 1);
} first_arena SEC(".maps");

struct {
	__uint(type, 33); /* BPF_MAP_TYPE_ARENA */
	__uint(map_flags, 1 << 10); /* BPF_F_MMAPABLE */
	__uint(max_entries, 1);
} second_arena SEC(".maps");

__u64 __arena shared_value = 1;

SEC("socket")
int read_shared(void *ctx)
{
	return shared_value;
}
