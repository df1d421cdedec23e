// cflags:
/* Global variables in .data, .rodata and .bss, plus a custom .data section. */
#include "bpf_defs.h"

char _license[] SEC("license") = "Dual MIT/GPL";

volatile const __u32 target_pid = 0;            /* .rodata, set before load */
volatile const char greeting[8] = "hello";      /* .rodata */
__u64 packets_seen = 0;                          /* .bss */
__u64 bytes_seen;                                /* .bss */
__u32 sample_rate = 16;                          /* .data */
__u64 custom_counter SEC(".data.custom") = 7;    /* custom data section */
static __u32 hidden_state = 3;                   /* .data, local symbol */

SEC("socket")
int count_packets(struct __sk_buff *skb)
{
	packets_seen++;
	bytes_seen += skb->len;
	custom_counter += hidden_state;
	hidden_state ^= 1;
	if (target_pid != 0 && greeting[0] == 'h')
		return 0;
	return (packets_seen % sample_rate) == 0 ? -1 : 0;
}
