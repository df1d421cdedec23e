// cflags:
/* Externs a loader resolves on both test kernels (the 6.18 host and Debian's 6.1 in
 * the VM), each copied to a global so that the tests compare it with what the kernel
 * says: .kconfig values of every kind (the values libbpf computes, a bool, an int, a
 * tristate, a string), an untyped ksym (its kallsyms address), weak ksyms and kfuncs
 * the kernel lacks, and conntrack kfuncs, which are built into the host kernel and
 * live in the nf_conntrack module on 6.1 (called through fd_array there). */
#include "bpf_defs.h"

char _license[] SEC("license") = "GPL";

enum libbpf_tristate {
	TRI_NO = 0,
	TRI_YES = 1,
	TRI_MODULE = 2,
};

struct xdp_md {
	__u32 data;
	__u32 data_end;
	__u32 data_meta;
	__u32 ingress_ifindex;
	__u32 rx_queue_index;
	__u32 egress_ifindex;
};

struct bpf_sock_tuple {
	union {
		struct {
			__u32 saddr;
			__u32 daddr;
			__u16 sport;
			__u16 dport;
		} ipv4;
		struct {
			__u32 saddr[4];
			__u32 daddr[4];
			__u16 sport;
			__u16 dport;
		} ipv6;
	};
};

struct bpf_ct_opts {
	__s32 netns_id;
	__s32 error;
	__u8 l4proto;
	__u8 dir;
	__u8 reserved[2];
};

struct nf_conn;

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern _Bool LINUX_HAS_SYSCALL_WRAPPER __kconfig;
extern _Bool LINUX_HAS_BPF_COOKIE __kconfig;
extern _Bool CONFIG_BPF_SYSCALL __kconfig;
extern int CONFIG_HZ __kconfig;
extern enum libbpf_tristate CONFIG_NF_CONNTRACK __kconfig __weak;
extern char CONFIG_DEFAULT_HOSTNAME[16] __kconfig __weak;
extern unsigned long long CONFIG_NO_SUCH_OPTION_XYZ __kconfig __weak;

extern const void schedule __ksym;
extern const int no_such_variable_xyz __ksym __weak;
extern struct nf_conn *bpf_xdp_ct_lookup(struct xdp_md *ctx, struct bpf_sock_tuple *tuple, __u32 tuple__sz,
					 struct bpf_ct_opts *opts, __u32 opts__sz) __ksym;
extern void bpf_ct_release(struct nf_conn *ct) __ksym;
extern int no_such_kfunc_xyz(void) __ksym __weak;

__u64 kernel_version;
__u64 has_syscall_wrapper;
__u64 has_bpf_cookie;
__u64 bpf_syscall;
__u64 hz;
__u64 conntrack;
__u64 no_such_option;
char hostname[16];
__u64 schedule_address;
__u64 missing_variable_address;
__u64 missing_kfunc_exists;
__s64 lookup_error;

SEC("xdp")
int read_externs(struct xdp_md *ctx)
{
	struct bpf_sock_tuple tuple = {};
	struct bpf_ct_opts opts = { .netns_id = -1, .l4proto = 6 };
	struct nf_conn *ct;

	kernel_version = LINUX_KERNEL_VERSION;
	has_syscall_wrapper = LINUX_HAS_SYSCALL_WRAPPER;
	has_bpf_cookie = LINUX_HAS_BPF_COOKIE;
	bpf_syscall = CONFIG_BPF_SYSCALL;
	hz = CONFIG_HZ;
	conntrack = CONFIG_NF_CONNTRACK;
	no_such_option = CONFIG_NO_SUCH_OPTION_XYZ;
	__builtin_memcpy(hostname, CONFIG_DEFAULT_HOSTNAME, sizeof(hostname));
	schedule_address = (__u64)&schedule;
	missing_variable_address = (__u64)&no_such_variable_xyz;
	missing_kfunc_exists = !!no_such_kfunc_xyz;
	if (no_such_kfunc_xyz)
		no_such_kfunc_xyz();

	ct = bpf_xdp_ct_lookup(ctx, &tuple, sizeof(tuple.ipv4), &opts, sizeof(opts));
	if (ct)
		bpf_ct_release(ct);
	lookup_error = opts.error;
	return 2; /* XDP_PASS */
}
