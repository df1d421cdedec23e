// SPDX-License-Identifier: (MIT OR GPL-2.0)
// execsnoop: on entry to execve, records the caller's pid, parent and the file name and arguments
// it passes (up to MAX_ARGS of them, ARG_SIZE bytes each); on the way out, adds the return value
// and the command name and sends the whole event through a ring buffer. Entry and exit may run on
// different CPUs (exec balances the task), so the event waits in a hash map keyed by thread id.

#include "../../include/vmlinux.h"
#include "../../include/ebpf_core.h"

#define ARG_SIZE 128
#define MAX_ARGS 20
#define ARGS_BYTES (ARG_SIZE * MAX_ARGS)
// The last offset at which a whole ARG_SIZE string still fits in args.
#define LAST_ARG_OFFSET (ARGS_BYTES - ARG_SIZE)

// What reaches user space: this header, then args_size bytes of NUL-terminated strings.
struct exec_header {
	__u32 pid;
	__u32 ppid;
	__u32 uid;
	__s32 retval;
	// The strings in args; one more than were read when the list was cut at MAX_ARGS.
	__u32 args_count;
	__u32 args_size;
	// 1 when the argument list had more than MAX_ARGS entries.
	__u32 truncated;
	__u32 reserved;
	char comm[16];
};

struct exec_event {
	struct exec_header header;
	char args[ARGS_BYTES];
};

// The layout of the syscall tracepoints' records (events/syscalls/sys_*_execve/format).
struct execve_enter_context {
	__u64 common;
	__s64 syscall_nr;
	const char *filename;
	const char *const *argv;
	const char *const *envp;
};

struct execve_exit_context {
	__u64 common;
	__s64 syscall_nr;
	__s64 ret;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

// Events between entry and exit, by thread id.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct exec_event);
} execs SEC(".maps");

// Room to build an event: it is far larger than the 512-byte stack.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exec_event);
} scratch SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_execve")
int execve_enter(struct execve_enter_context *ctx)
{
	__u32 zero = 0;
	struct exec_event *event = bpf_map_lookup_elem(&scratch, &zero);
	if (!event)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	event->header.pid = id >> 32;
	event->header.ppid = BPF_CORE_READ(task, real_parent, tgid);
	event->header.uid = (__u32)bpf_get_current_uid_gid();
	event->header.retval = 0;
	event->header.truncated = 0;
	event->header.reserved = 0;

	__u32 size = 0;
	__u32 count = 1;
	long length = bpf_probe_read_user_str(event->args, ARG_SIZE, ctx->filename);
	if (length > 0 && length <= ARG_SIZE) {
		size = length;
	} else {
		event->args[0] = 0;
		size = 1;
	}

	const char *const *argv = ctx->argv;
	for (int index = 1; index < MAX_ARGS; index++) {
		const char *argument = 0;
		if (bpf_probe_read_user(&argument, sizeof(argument), &argv[index]) < 0 || !argument)
			goto done;
		if (size > LAST_ARG_OFFSET)
			goto done;
		length = bpf_probe_read_user_str(&event->args[size], ARG_SIZE, argument);
		if (length <= 0 || length > ARG_SIZE)
			goto done;
		size += length;
		count++;
	}
	// All MAX_ARGS slots are used: say whether the list went on.
	const char *more = 0;
	if (bpf_probe_read_user(&more, sizeof(more), &argv[MAX_ARGS]) == 0 && more)
		event->header.truncated = 1;
done:
	event->header.args_count = count;
	event->header.args_size = size;
	bpf_map_update_elem(&execs, &tid, event, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
int execve_exit(struct execve_exit_context *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct exec_event *event = bpf_map_lookup_elem(&execs, &tid);
	if (!event)
		return 0;
	event->header.retval = ctx->ret;
	// After a successful exec this is the new program's name.
	bpf_get_current_comm(event->header.comm, sizeof(event->header.comm));
	__u32 size = event->header.args_size;
	if (size > ARGS_BYTES)
		size = ARGS_BYTES;
	bpf_ringbuf_output(&events, event, sizeof(struct exec_header) + size, 0);
	bpf_map_delete_elem(&execs, &tid);
	return 0;
}

char __license[] SEC("license") = "Dual MIT/GPL";
