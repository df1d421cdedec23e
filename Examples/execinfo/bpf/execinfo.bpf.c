// SPDX-License-Identifier: (MIT OR GPL-2.0)
// CO-RE: on every exec, reads fields of the current task_struct, of its parent and of its
// credentials. The offsets come from the trimmed vmlinux.h at compile time and are relocated by
// the loader for the running kernel, so the same object works on kernels with other layouts.

#include "../../include/vmlinux.h"
#include "../../include/ebpf_core.h"

struct exec_event {
	__u32 pid;
	__u32 parent_pid;
	__u32 uid;
	__u64 start_time;
	char comm[16];
	char parent_comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct exec_event);
} execs SEC(".maps");

SEC("tracepoint/sched/sched_process_exec")
int record_exec(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct exec_event event = {};

	event.pid = BPF_CORE_READ(task, tgid);
	event.parent_pid = BPF_CORE_READ(task, real_parent, tgid);
	event.uid = BPF_CORE_READ(task, cred, uid.val);
	event.start_time = BPF_CORE_READ(task, start_time);
	BPF_CORE_READ_INTO(&event.comm, task, comm);
	struct task_struct *parent = BPF_CORE_READ(task, real_parent);
	BPF_CORE_READ_INTO(&event.parent_comm, parent, comm);

	bpf_map_update_elem(&execs, &event.pid, &event, BPF_ANY);
	return 0;
}

char __license[] SEC("license") = "Dual MIT/GPL";
