// cflags:
/* Socket lookup steering: TCP connections to steered_port (where nothing listens) are handed to
 * the listening socket stored at key 0 of a SOCKMAP, with bpf_sk_assign. */
#include "bpf_defs.h"

char _license[] SEC("license") = "GPL";

#define BPF_MAP_TYPE_SOCKMAP 15
#define IPPROTO_TCP 6
#define SK_DROP 0
#define SK_PASS 1

static long (*bpf_sk_release)(void *sock) = (void *)86;
static long (*bpf_sk_assign)(void *ctx, void *sk, __u64 flags) = (void *)124;

struct bpf_sock;

/* The leading fields of the kernel's struct bpf_sk_lookup (uapi linux/bpf.h), up to local_port. */
struct bpf_sk_lookup {
	union {
		struct bpf_sock *sk;
		__u64 cookie;
	};
	__u32 family;
	__u32 protocol;
	__u32 remote_ip4;
	__u32 remote_ip6[4];
	__u16 remote_port; /* network byte order, followed by 16 bits of padding */
	__u16 padding;
	__u32 local_ip4;
	__u32 local_ip6[4];
	__u32 local_port; /* host byte order */
};

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} listeners SEC(".maps");

/* Set in the spec before loading. */
const volatile __u32 steered_port = 0;

/* How many lookups were steered. */
__u64 steered = 0;

SEC("sk_lookup")
int steer_to_listener(struct bpf_sk_lookup *ctx)
{
	__u32 key = 0;
	struct bpf_sock *listener;
	long assigned;

	if (ctx->protocol != IPPROTO_TCP || ctx->local_port != steered_port)
		return SK_PASS;
	listener = bpf_map_lookup_elem(&listeners, &key);
	if (!listener)
		return SK_PASS;
	assigned = bpf_sk_assign(ctx, listener, 0);
	bpf_sk_release(listener);
	if (assigned != 0)
		return SK_DROP;
	__sync_fetch_and_add(&steered, 1);
	return SK_PASS;
}
