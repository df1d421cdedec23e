// cflags:
/* fmod_ret and fexit on a kernel function: for one thread and one prctl option no kernel knows,
 * answer_prctl makes security_task_prctl return `answer` without running it (prctl(2) then
 * returns that value), and record_prctl sees what the function returned. The security_ prefix
 * is what lets fmod_ret attach here on kernels without CONFIG_FUNCTION_ERROR_INJECTION (Debian's
 * 6.1), where bpf_modify_return_test and the syscalls are refused. */
#include "bpf_defs.h"

char _license[] SEC("license") = "GPL";

/* Set in the spec before loading. */
const volatile __u32 target_thread = 0;
const volatile __s32 target_option = 0;
const volatile __s32 answer = 0;

/* What record_prctl saw. */
__s64 last_return = 0;
__u64 exits = 0;

/* security_task_prctl(int option, unsigned long arg2, arg3, arg4, arg5) returns int: the
 * arguments are ctx[0] to ctx[4], the return value (so far) ctx[5]. */
static __always_inline int is_target_call(__u64 *ctx)
{
	return (__u32)bpf_get_current_pid_tgid() == target_thread && (__s32)ctx[0] == target_option;
}

SEC("fmod_ret/security_task_prctl")
int answer_prctl(__u64 *ctx)
{
	/* Zero lets the kernel function run; anything else replaces its result. */
	if (!is_target_call(ctx))
		return 0;
	return answer;
}

SEC("fexit/security_task_prctl")
int record_prctl(__u64 *ctx)
{
	if (!is_target_call(ctx))
		return 0;
	last_return = (__s32)ctx[5];
	__sync_fetch_and_add(&exits, 1);
	return 0;
}
