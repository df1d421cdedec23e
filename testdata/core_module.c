// cflags:
/* CO-RE relocations against kernel module BTF: struct nf_conntrack_expect_policy
 * lives only in nf_conntrack's BTF (split BTF on top of vmlinux), while struct
 * file_system_type is in vmlinux and, duplicated, in nf_conntrack's BTF too;
 * vmlinux wins, as in libbpf. */
#include "core_defs.h"

char _license[] SEC("license") = "GPL";

struct nf_conntrack_expect_policy {
	unsigned int timeout;
} __core;

struct file_system_type {
	int fs_flags;
} __core;

__u64 out[4];

SEC("raw_tp/sys_enter")
int module(void *ctx)
{
	struct nf_conntrack_expect_policy *policy = ctx;
	struct file_system_type *fs = ctx;

	out[0] = core_field_offset(policy->timeout);
	out[1] = core_type_exists(struct nf_conntrack_expect_policy);
	out[2] = core_field_offset(fs->fs_flags);
	return 0;
}
