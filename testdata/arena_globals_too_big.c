// cflags:
/* 8 KiB of __arena globals in a one-page arena: more than 4 KiB pages hold, so
 * the reader refuses the object. */
#include "bpf_defs.h"

#define __arena __attribute__((address_space(1)))

char _license[] SEC("license") = "GPL";

struct {
	__uint(type, 33); /* BPF_MAP_TYPE_ARENA */
	__uint(map_flags, 1 << 10); /* BPF_F_MMAPABLE */
	__uint(max_entries, 1);
} small_arena SEC(".maps");

__u64 __arena big_table[1024] = {1};

SEC("socket")
int read_table(void *ctx)
{
	return big_table[0];
}
