// cflags: -D__TARGET_ARCH_x86 -I/usr/include/x86_64-linux-gnu
/* USDT programs written against libbpf 1.1's <bpf/usdt.bpf.h> (Debian's libbpf-dev), which the
 * USDT link serves: `record_args` stores every argument bpf_usdt_arg() returns, the argument
 * count and the user cookie of each hit; `count_audit` counts CPython's audit events by the name
 * its first argument points to. */
#ifdef SWIFT_EBPF_OWN_USDT_HEADER
/* usdt_own.c: the same programs against the project's own Examples/include/ebpf_usdt.h. */
#include "../Examples/include/ebpf_helpers.h"
#include "../Examples/include/ebpf_usdt.h"
#else
#include <linux/types.h>
#include <linux/ptrace.h>
#include <linux/bpf.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>
#endif

struct audit_name {
	char text[64];
};

#define MAX_RECORDS 64

struct usdt_record {
	__s64 args[BPF_USDT_MAX_ARG_CNT];
	__s32 results[BPF_USDT_MAX_ARG_CNT];
	__s64 arg_count;
	__u64 cookie;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_RECORDS);
	__type(key, __u32);
	__type(value, struct usdt_record);
} records SEC(".maps");

/* Slot 0: hits so far (every hit, also those past MAX_RECORDS). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct audit_name);
	__type(value, __u64);
} audit_counts SEC(".maps");

SEC("usdt")
int record_args(struct pt_regs *ctx)
{
	__u32 zero = 0;
	__u64 *count = bpf_map_lookup_elem(&hits, &zero);
	if (!count)
		return 0;
	__u32 index = __sync_fetch_and_add(count, 1);
	struct usdt_record *record = bpf_map_lookup_elem(&records, &index);
	if (!record)
		return 0;
	record->arg_count = bpf_usdt_arg_cnt(ctx);
	record->cookie = bpf_usdt_cookie(ctx);
#pragma unroll
	for (int i = 0; i < BPF_USDT_MAX_ARG_CNT; i++) {
		long value = 0;
		record->results[i] = bpf_usdt_arg(ctx, i, &value);
		record->args[i] = value;
	}
	return 0;
}

SEC("usdt")
int BPF_USDT(count_audit, const char *event)
{
	struct audit_name name = {};
	__u64 one = 1, *count;

	bpf_probe_read_user_str(name.text, sizeof(name.text), event);
	count = bpf_map_lookup_elem(&audit_counts, &name);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&audit_counts, &name, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
