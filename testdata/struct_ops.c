// cflags:
/* struct_ops: a struct of function pointers in .struct_ops and .struct_ops.link, set to programs. */
#include "bpf_defs.h"

char _license[] SEC("license") = "GPL";

struct demo_ops {
	int (*init)(void);
	void (*release)(int reason);
	unsigned int flags;
	char name[16];
};

SEC("struct_ops/demo_init")
int demo_init(void)
{
	return 0;
}

SEC("struct_ops.s/demo_release")
void demo_release(int reason)
{
}

SEC(".struct_ops")
struct demo_ops plain_ops = {
	.init = (void *)demo_init,
	.release = (void *)demo_release,
	.flags = 7,
	.name = "plain",
};

SEC(".struct_ops.link")
struct demo_ops linked_ops = {
	.init = (void *)demo_init,
	.name = "linked",
};
