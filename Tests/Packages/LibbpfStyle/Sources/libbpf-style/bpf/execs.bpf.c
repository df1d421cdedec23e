// SPDX-License-Identifier: (MIT OR GPL-2.0)
// In the style of libbpf-bootstrap: a tracepoint on every exec sends the new process's pid, its
// parent's (read with BPF_CORE_READ) and its command through a ring buffer. min_pid is a
// constant given before load.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct exec_event {
	int pid;
	int ppid;
	char comm[16];
};

// The event is used only through the reservation; this keeps its BTF for bpf2swift -type.
const struct exec_event *unused_exec_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} exec_events SEC(".maps");

const volatile int min_pid = 0;

SEC("tp/sched/sched_process_exec")
int handle_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	int pid = bpf_get_current_pid_tgid() >> 32;
	if (pid < min_pid)
		return 0;
	struct exec_event *event = bpf_ringbuf_reserve(&exec_events, sizeof(*event), 0);
	if (!event)
		return 0;
	event->pid = pid;
	event->ppid = BPF_CORE_READ(task, real_parent, tgid);
	bpf_get_current_comm(&event->comm, sizeof(event->comm));
	bpf_ringbuf_submit(event, 0);
	bpf_printk("exec of pid %d", pid);
	return 0;
}

__u64 raw_syscalls = 0;

SEC("raw_tp/sys_enter")
int BPF_PROG(count_syscalls, struct pt_regs *regs, long id)
{
	if (id == 110) // getppid on x86-64
		__sync_fetch_and_add(&raw_syscalls, 1);
	return 0;
}
