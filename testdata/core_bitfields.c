// cflags:
/* CO-RE bitfield relocations: byte offset, byte size, left and right shifts and
 * signedness of task_struct's one-bit fields, read the way libbpf's
 * BPF_CORE_READ_BITFIELD_PROBED reads them. */
#include "core_defs.h"

char _license[] SEC("license") = "GPL";

struct task_struct {
	unsigned int sched_reset_on_fork : 1;
	unsigned int in_execve : 1;
} __core;

struct task_struct___missing {
	unsigned int no_such_bit : 1;
} __core;

__u64 out[8];

SEC("tp_btf/sched_process_exec")
int bitfields(__u64 *ctx)
{
	struct task_struct *task = (void *)ctx[0];

	out[0] = core_read_bitfield(task, in_execve);
	out[1] = core_read_bitfield(task, sched_reset_on_fork);
	out[2] = core_field_lshift(((struct task_struct___missing *)task)->no_such_bit);
	out[3] = core_field_rshift(((struct task_struct___missing *)task)->no_such_bit);
	return 0;
}
