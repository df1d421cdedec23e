// cflags:
/* Hidden global functions (libbpf's __hidden), weak or not. libbpf verifies them as static
 * functions, in their caller's context; as global functions the verifier would check each on
 * its own, where a pointer argument may be NULL, and refuse the unchecked dereference. */
#include "bpf_defs.h"

char _license[] SEC("license") = "GPL";

__hidden __noinline int read_hidden(int *value)
{
	return *value + 1;
}

__weak __hidden __noinline int read_hidden_weak(int *value)
{
	return *value + 2;
}

/* A plain global function stays global: it checks its pointer itself. */
__noinline int read_checked(int *value)
{
	return value ? *value : 0;
}

SEC("socket")
int calls_hidden(struct __sk_buff *skb)
{
	int value = skb->len;
	return read_hidden(&value) + read_hidden_weak(&value) + read_checked(&value);
}
