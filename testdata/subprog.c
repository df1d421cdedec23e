// cflags:
/* Static and global subprograms called with bpf-to-bpf calls, and a bpf_loop callback. */
#include "bpf_defs.h"

char _license[] SEC("license") = "GPL";

__u64 accumulator;

static __noinline __u64 mix(__u64 a, __u64 b)
{
	volatile __u64 x = a;
	return (x * 31) ^ b;
}

static __noinline __u64 twice(__u64 v)
{
	return mix(v, v) + mix(v, 1);
}

__noinline int global_helper(__u32 v)
{
	volatile __u32 y = v;
	return y > 10 ? 1 : 0;
}

static long loop_body(__u32 index, void *ctx)
{
	accumulator += index;
	return 0;
}

SEC("socket")
int calls_subprograms(struct __sk_buff *skb)
{
	__u64 r = twice(skb->len);
	return global_helper((__u32)r);
}

SEC("xdp")
int calls_loop(void *ctx)
{
	bpf_loop(8, loop_body, NULL, 0);
	return 2; /* XDP_PASS */
}
