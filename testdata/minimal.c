// cflags:
/* The smallest useful program: a socket filter that accepts every packet. */
#include "bpf_defs.h"

char _license[] SEC("license") = "GPL";

SEC("socket")
int accept_all(struct __sk_buff *skb)
{
	return -1;
}
