// cflags:
/* tcp_ca: a TCP congestion control written as struct_ops programs, for the kernel's
 * tcp_congestion_ops table (bpf_tcp_ca). The struct below is this object's own view of the table:
 * a subset of the kernel's members in another order, plus one the kernel lacks (left zero), which
 * the loader places by name. init counts the sockets that switch to it. */
#include "bpf_defs.h"

char _license[] SEC("license") = "GPL";

struct sock;

struct tcp_congestion_ops {
	char name[16];
	__u32 flags;
	__u32 not_in_kernel;
	void (*init)(struct sock *sk);
	__u32 (*ssthresh)(struct sock *sk);
	void (*cong_avoid)(struct sock *sk, __u32 ack, __u32 acked);
	__u32 (*undo_cwnd)(struct sock *sk);
};

__u64 init_calls = 0;

SEC("struct_ops/swift_ca_init")
int swift_ca_init(unsigned long long *ctx)
{
	__sync_fetch_and_add(&init_calls, 1);
	return 0;
}

SEC("struct_ops/swift_ca_ssthresh")
int swift_ca_ssthresh(unsigned long long *ctx)
{
	return 2;
}

SEC("struct_ops/swift_ca_avoid")
int swift_ca_avoid(unsigned long long *ctx)
{
	return 0;
}

SEC("struct_ops/swift_ca_undo")
int swift_ca_undo(unsigned long long *ctx)
{
	return 10;
}

SEC(".struct_ops.link")
struct tcp_congestion_ops swift_ca = {
	.name = "swift_ca",
	.flags = 1, /* TCP_CONG_NON_RESTRICTED: listed in tcp_allowed_congestion_control */
	.init = (void *)swift_ca_init,
	.ssthresh = (void *)swift_ca_ssthresh,
	.cong_avoid = (void *)swift_ca_avoid,
	.undo_cwnd = (void *)swift_ca_undo,
};
