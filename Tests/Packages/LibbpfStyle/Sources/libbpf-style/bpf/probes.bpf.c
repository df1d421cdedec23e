// SPDX-License-Identifier: (MIT OR GPL-2.0)
// In the style of libbpf-bootstrap's kprobe and ksyscall examples: vmlinux.h included with angle
// brackets, BPF_KPROBE and BPF_KSYSCALL reading their arguments, BPF_CORE_READ on a kernel
// struct. The host kernel of the tests has no kprobes, so the test loads these and the VM tier
// attaches programs like them.
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

__u64 unlinks = 0;
__u64 kills = 0;

SEC("kprobe/do_unlinkat")
int BPF_KPROBE(do_unlinkat, int dfd, struct filename *name)
{
	const char *path = BPF_CORE_READ(name, name);
	if (path)
		__sync_fetch_and_add(&unlinks, 1);
	return 0;
}

SEC("ksyscall/kill")
int BPF_KSYSCALL(entry_probe, pid_t pid, int sig)
{
	if (sig == 0)
		__sync_fetch_and_add(&kills, 1);
	return 0;
}
