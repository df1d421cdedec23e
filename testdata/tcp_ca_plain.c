// cflags:
/* tcp_ca_plain: the congestion control of tcp_ca.c in a `.struct_ops` section, so its map has no
 * BPF_F_LINK: writing the map's value registers the table, and deleting it unregisters it. The
 * loader must leave that to the attach. init counts the sockets that switch to the table. */
#include "bpf_defs.h"

char _license[] SEC("license") = "GPL";

struct sock;

struct tcp_congestion_ops {
	__u32 (*ssthresh)(struct sock *sk);
	void (*cong_avoid)(struct sock *sk, __u32 ack, __u32 acked);
	__u32 (*undo_cwnd)(struct sock *sk);
	void (*init)(struct sock *sk);
	__u32 flags;
	char name[16];
};

__u64 plain_init_calls = 0;

SEC("struct_ops/plain_ca_init")
int plain_ca_init(unsigned long long *ctx)
{
	__sync_fetch_and_add(&plain_init_calls, 1);
	return 0;
}

SEC("struct_ops/plain_ca_ssthresh")
int plain_ca_ssthresh(unsigned long long *ctx)
{
	return 2;
}

SEC("struct_ops/plain_ca_avoid")
int plain_ca_avoid(unsigned long long *ctx)
{
	return 0;
}

SEC("struct_ops/plain_ca_undo")
int plain_ca_undo(unsigned long long *ctx)
{
	return 10;
}

SEC(".struct_ops")
struct tcp_congestion_ops swift_ca_plain = {
	.ssthresh = (void *)plain_ca_ssthresh,
	.cong_avoid = (void *)plain_ca_avoid,
	.undo_cwnd = (void *)plain_ca_undo,
	.init = (void *)plain_ca_init,
	.flags = 1, /* TCP_CONG_NON_RESTRICTED */
	.name = "swift_ca_plain",
};
