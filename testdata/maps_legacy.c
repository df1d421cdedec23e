// cflags:
/* A legacy map in the "maps" section and a kprobe that counts calls in it. */
#include "bpf_defs.h"

char _license[] SEC("license") = "GPL";
__u32 _version SEC("version") = 0xFFFFFFFE;

struct bpf_map_def SEC("maps") execve_counts = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 1,
};

struct bpf_map_def SEC("maps") pid_seen = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u8),
	.max_entries = 128,
};

SEC("kprobe/sys_execve")
int count_execve(void *ctx)
{
	__u32 key = 0;
	__u64 *count = bpf_map_lookup_elem(&execve_counts, &key);
	if (count)
		__sync_fetch_and_add(count, 1);

	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u8 one = 1;
	bpf_map_update_elem(&pid_seen, &pid, &one, BPF_ANY);
	return 0;
}
