// cflags:
/* CO-RE field relocations: byte offset (on loads and as constants), byte size,
 * existence and signedness, against kernel structs whose layout differs between
 * Linux 6.1 and 6.18. Loads through preserve_access_index structs carry their
 * relocation on the ldx itself, which is where load sizes get adjusted. */
#include "core_defs.h"

char _license[] SEC("license") = "GPL";

struct task_struct {
	int pid;
	int tgid;
	struct task_struct *real_parent;
	char comm[16];
	unsigned int flags;
} __core;

/* Only in 6.18 (mm_cid arrived in 6.4). */
struct task_struct___new {
	int mm_cid;
} __core;

/* In neither kernel: every relocation of it is poisoned. */
struct task_struct___missing {
	int no_such_field;
} __core;

struct sock {
	unsigned short sk_tsflags; /* u16 in 6.1, u32 in 6.18 */
	int sk_gso_type;           /* int in 6.1, u16 in 6.18 */
} __core;

struct net {
	int ifindex; /* int in 6.1, unsigned int in 6.18 */
} __core;

struct file_ra_state {
	unsigned int mmap_miss; /* unsigned int in 6.1, unsigned short in 6.18 */
} __core;

__u64 out[16];

SEC("tp_btf/sched_process_exec")
int fields(__u64 *ctx)
{
	struct task_struct *task = (void *)ctx[0];
	struct sock *sk = (void *)ctx[1];
	struct file_ra_state *ra = (void *)ctx[2];

	/* ldx with relocated offsets */
	out[0] = task->pid;
	out[1] = task->real_parent->tgid;
	out[2] = task->comm[3];
	/* ldx whose size changes: u16 -> u32 on 6.18, u32 -> u16 on 6.18 */
	out[3] = sk->sk_tsflags;
	out[4] = ra->mmap_miss;
	/* ldx of a signed int that became a u16: libbpf poisons it on 6.18 */
	out[5] = sk->sk_gso_type;

	/* constants */
	out[6] = core_field_offset(task->flags);
	out[7] = core_field_size(sk->sk_tsflags);
	out[8] = core_field_exists(((struct task_struct___new *)task)->mm_cid);
	out[9] = core_field_signed(((struct net *)sk)->ifindex);
	out[10] = core_field_exists(((struct task_struct___missing *)task)->no_such_field);
	if (core_field_exists(((struct task_struct___missing *)task)->no_such_field))
		out[11] = core_field_offset(((struct task_struct___missing *)task)->no_such_field);
	out[12] = core_field_size(((struct task_struct___missing *)task)->no_such_field);
	out[13] = core_field_signed(((struct task_struct___missing *)task)->no_such_field);
	return 0;
}
