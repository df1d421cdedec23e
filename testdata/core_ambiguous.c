// cflags:
/* CO-RE relocations with several candidates. Against core_target.o every kind
 * whose candidates disagree is ambiguous and must be reported; agreeing
 * candidates (struct same) are fine. Against both kernels, struct
 * perf_aux_event and syscall_tp_t each have several definitions of different
 * sizes. */
#include "core_defs.h"

char _license[] SEC("license") = "GPL";

struct amb {
	int a;
	long long b;
	unsigned int bits : 3;
} __core;

struct same {
	int x;
	int y;
} __core;

enum amb_enum {
	AMB_VALUE = 1,
};

struct perf_event_header {
	__u32 type;
	__u16 misc;
	__u16 size;
} __core;

struct perf_aux_event {
	struct perf_event_header header;
} __core;

struct syscall_tp_t {
	int syscall_nr;
} __core;

__u64 out[32];

SEC("raw_tp/sys_enter")
int ambiguous_target(void *ctx)
{
	struct amb *amb = ctx;
	struct same *same = ctx;

	out[0] = core_field_offset(amb->a);
	out[1] = core_field_size(amb->a);
	out[2] = core_field_exists(amb->a);
	out[3] = core_field_signed(amb->bits);
	out[4] = core_field_lshift(amb->bits);
	out[5] = core_field_rshift(amb->bits);
	out[6] = core_type_id_target(struct amb);
	out[7] = core_type_exists(struct amb);
	out[8] = core_type_size(struct amb);
	out[9] = core_type_matches(struct amb);
	out[10] = core_enum_value_exists(enum amb_enum, AMB_VALUE);
	out[11] = core_enum_value(enum amb_enum, AMB_VALUE);
	out[12] = core_field_offset(same->y);
	out[13] = core_type_size(struct same);
	return 0;
}

SEC("raw_tp/sys_exit")
int ambiguous_kernel(void *ctx)
{
	struct perf_aux_event *event = ctx;
	struct syscall_tp_t *tp = ctx;

	out[20] = core_field_offset(event->header.size);
	out[21] = core_type_size(struct perf_aux_event);
	out[22] = core_type_id_target(struct perf_aux_event);
	out[23] = core_field_offset(tp->syscall_nr);
	out[24] = core_type_size(struct syscall_tp_t);
	return 0;
}
