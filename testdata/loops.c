// cflags: -fno-jump-tables
/* Bounded loops and a switch compiled without jump tables. */
#include "bpf_defs.h"

char _license[] SEC("license") = "GPL";

SEC("socket")
int bounded_loop(struct __sk_buff *skb)
{
	__u32 sum = 0;
#pragma clang loop unroll(disable)
	for (volatile __u32 i = 0; i < 16; i++)
		sum += i * skb->len;
	return sum & 1 ? -1 : 0;
}

SEC("socket")
int switch_on_protocol(struct __sk_buff *skb)
{
	switch (skb->protocol) {
	case 0x0008: return 1;
	case 0xdd86: return 2;
	case 0x0608: return 3;
	case 0x0081: return 4;
	case 0xa888: return 5;
	case 0x4788: return 6;
	default: return 0;
	}
}
