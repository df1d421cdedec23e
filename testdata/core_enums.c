// cflags:
/* CO-RE enumerator relocations: existence and value of enumerators whose values
 * moved between Linux 6.1 and 6.18, one that is new in 6.18 and one that exists
 * in neither. */
#include "core_defs.h"

char _license[] SEC("license") = "GPL";

enum cpuhp_state {
	CPUHP_PERF_X86_PREPARE = 3,
};

enum node_stat_item {
	NR_SHMEM = 23,
};

enum bpf_map_type___new {
	BPF_MAP_TYPE_ARENA___new = 33,
};

enum bpf_map_type___missing {
	BPF_MAP_TYPE_NO_SUCH_MAP = 1000,
};

__u64 out[8];

SEC("raw_tp/sys_enter")
int enums(void *ctx)
{
	out[0] = core_enum_value(enum cpuhp_state, CPUHP_PERF_X86_PREPARE);
	out[1] = core_enum_value(enum node_stat_item, NR_SHMEM);
	out[2] = core_enum_value_exists(enum bpf_map_type___new, BPF_MAP_TYPE_ARENA___new);
	out[3] = core_enum_value_exists(enum bpf_map_type___missing, BPF_MAP_TYPE_NO_SUCH_MAP);
	if (core_enum_value_exists(enum bpf_map_type___missing, BPF_MAP_TYPE_NO_SUCH_MAP))
		out[4] = core_enum_value(enum bpf_map_type___missing, BPF_MAP_TYPE_NO_SUCH_MAP);
	return 0;
}
