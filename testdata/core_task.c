// cflags:
/* CO-RE on the running task: reads pid, tgid, the parent's tgid and comm of the
 * current task_struct through relocated offsets, for the tier 2 (host, 6.18) and
 * tier 3 (Debian 6.1 VM) loader tests, which compare them with what the test
 * process knows about itself. A raw tracepoint on sys_enter, so it runs both
 * attached and through BPF_PROG_TEST_RUN (in the calling thread). */
#include "core_defs.h"

char _license[] SEC("license") = "GPL";

struct task_struct {
	int pid;
	int tgid;
	struct task_struct *real_parent;
	char comm[16];
} __core;

static __u64 (*get_current_task)(void) = (void *)35;

/* Set before loading: only this thread's syscalls are recorded (0: any). */
volatile const __u64 target_pid_tgid = 0;

__u32 seen;
int task_pid;
int task_tgid;
int parent_tgid;
char task_comm[16];

SEC("raw_tp/sys_enter")
int read_task(void *ctx)
{
	struct task_struct *task, *parent = 0;

	if (target_pid_tgid && bpf_get_current_pid_tgid() != target_pid_tgid)
		return 0;
	task = (void *)get_current_task();
	core_read_into(&task_pid, task, pid);
	core_read_into(&task_tgid, task, tgid);
	core_read_into(&parent, task, real_parent);
	core_read_into(&parent_tgid, parent, tgid);
	core_read_into(&task_comm, task, comm);
	__sync_fetch_and_add(&seen, 1);
	return 0;
}
