// cflags:
/* CO-RE type relocations: local and target type ids, existence, size and
 * bpf_core_type_matches, for types that changed between Linux 6.1 and 6.18. */
#include "core_defs.h"

char _license[] SEC("license") = "GPL";

struct task_struct {
	int pid;
};

/* BPF tokens arrived in 6.9. */
struct bpf_token {
	int refcnt;
};

/* Matches 6.18 only: no members to disagree on, and the type is new there.
 * Integer names must match the kernel's (gcc's), so only plain int types. */
struct bpf_token___empty {
};

/* Matches 6.1 only: mmap_miss was an unsigned int, and is an unsigned short in 6.18. */
struct file_ra_state___old {
	unsigned int size;
	unsigned int async_size;
	unsigned int ra_pages;
	unsigned int mmap_miss;
};

struct no_such_type {
	int x;
};

typedef unsigned int no_such_typedef_t;

__u64 out[16];

SEC("raw_tp/sys_enter")
int types(void *ctx)
{
	out[0] = core_type_id_local(struct task_struct);
	out[1] = core_type_id_target(struct task_struct);
	out[2] = core_type_exists(struct bpf_token);
	out[3] = core_type_size(struct task_struct);
	out[4] = core_type_matches(struct bpf_token___empty);
	out[5] = core_type_matches(struct file_ra_state___old);
	out[6] = core_type_exists(struct no_such_type);
	out[7] = core_type_size(struct no_such_type);
	out[8] = core_type_id_target(struct no_such_type);
	out[9] = core_type_matches(no_such_typedef_t);
	out[10] = core_type_size(struct bpf_token);
	return 0;
}
