// cflags:
/* A socket filter with BTF (func info names measure_packet), the target program of the fentry
 * and fexit programs in tracing_bpf2bpf.c. It keeps the whole packet: it returns its length. */
#include "bpf_defs.h"

char _license[] SEC("license") = "GPL";

SEC("socket")
int measure_packet(struct __sk_buff *skb)
{
	return skb->len;
}
