// SPDX-License-Identifier: (MIT OR GPL-2.0)
// Programs attachAll() places by their section names on a kernel with kprobes (the VM tier): a
// ksyscall on getpgid, resolved to this architecture's syscall entry point, and a kprobe on
// do_unlinkat, which every unlink reaches even when the file does not exist. Both count calls of
// one thread (target_tid).

#include "../../../Examples/include/ebpf_helpers.h"

const volatile __u32 target_tid = 0;

__u64 ksyscall_hits = 0;
__u64 kprobe_hits = 0;

static __always_inline int count(__u64 *counter)
{
	if ((__u32)bpf_get_current_pid_tgid() == target_tid)
		__sync_fetch_and_add(counter, 1);
	return 0;
}

SEC("ksyscall/getpgid")
int count_getpgid(void *context)
{
	return count(&ksyscall_hits);
}

SEC("kprobe/do_unlinkat")
int count_unlinks(void *context)
{
	return count(&kprobe_hits);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
