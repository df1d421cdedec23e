// cflags:
/* A map definition with a `static` qualifier, the mistake cilium/ebpf names: clang references
 * it through the local section symbol of "maps" (with its offset in the instruction), so the
 * reader refuses the object with "possible static qualifier on a map definition". */
#include "bpf_defs.h"

char _license[] SEC("license") = "GPL";

struct bpf_map_def SEC("maps") shared_counts = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 1,
};

static struct bpf_map_def SEC("maps") private_counts = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 1,
};

SEC("socket")
int counts_twice(void *ctx)
{
	__u32 key = 0;
	__u64 *shared = bpf_map_lookup_elem(&shared_counts, &key);
	__u64 *private = bpf_map_lookup_elem(&private_counts, &key);
	return (shared ? *shared : 0) + (private ? *private : 0);
}
