// cflags:
/* fentry and fexit on another BPF program: loaded with tracing_target.c's loaded program as the
 * attach target, they run around its function measure_packet(struct __sk_buff *skb). */
#include "bpf_defs.h"

char _license[] SEC("license") = "GPL";

__u64 entries = 0;
__u64 exits = 0;
__s64 last_return = 0;

SEC("fentry/measure_packet")
int count_entry(__u64 *ctx)
{
	__sync_fetch_and_add(&entries, 1);
	return 0;
}

/* ctx[0] is the target's argument, ctx[1] what it returned. */
SEC("fexit/measure_packet")
int record_exit(__u64 *ctx)
{
	last_return = (__s32)ctx[1];
	__sync_fetch_and_add(&exits, 1);
	return 0;
}
