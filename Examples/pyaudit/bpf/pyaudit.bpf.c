// SPDX-License-Identifier: (MIT OR GPL-2.0)
// pyaudit: counts a Python process's audit events (PEP 578) by name, through CPython's
// python:audit USDT probe, whose first argument is the event name.

#include "../../include/ebpf_helpers.h"
#include "../../include/ebpf_usdt.h"

#define NAME_SIZE 64

struct audit_name {
	char text[NAME_SIZE];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct audit_name);
	__type(value, __u64);
} audit_counts SEC(".maps");

SEC("usdt")
int BPF_USDT(handle_audit, const char *event)
{
	struct audit_name name = {};
	__u64 one = 1, *count;

	bpf_probe_read_user_str(name.text, sizeof(name.text), event);
	count = bpf_map_lookup_elem(&audit_counts, &name);
	if (count)
		__sync_fetch_and_add(count, 1);
	else if (bpf_map_update_elem(&audit_counts, &name, &one, BPF_NOEXIST))
		/* Another CPU added it meanwhile. */
		if ((count = bpf_map_lookup_elem(&audit_counts, &name)))
			__sync_fetch_and_add(count, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
