/* USDT argument access for BPF programs, written for swift-ebpf: the same contract as libbpf 1.1's
 * <bpf/usdt.bpf.h> (the maps __bpf_usdt_specs and __bpf_usdt_ip_to_spec_id, their value layouts,
 * the LINUX_HAS_BPF_COOKIE choice between the BPF cookie and the instruction pointer, and the
 * BPF_USDT / bpf_usdt_arg / bpf_usdt_arg_cnt / bpf_usdt_cookie names), so a program built against
 * either header attaches through swift-ebpf's USDT link. Needs ebpf_helpers.h first. Unlike libbpf's
 * header, the accessors are static inline functions, so no global-function support is needed. */
#ifndef SWIFT_EBPF_USDT_H
#define SWIFT_EBPF_USDT_H

#ifndef BPF_USDT_MAX_SPEC_CNT
#define BPF_USDT_MAX_SPEC_CNT 256
#endif
#ifndef BPF_USDT_MAX_IP_CNT
#define BPF_USDT_MAX_IP_CNT (4 * BPF_USDT_MAX_SPEC_CNT)
#endif
#define BPF_USDT_MAX_ARG_CNT 12

struct pt_regs;

/* How an argument is found: a constant, a register, or memory at a register plus an offset. */
enum __bpf_usdt_arg_type {
	BPF_USDT_ARG_CONST,
	BPF_USDT_ARG_REG,
	BPF_USDT_ARG_REG_DEREF,
};

/* 16 bytes per argument; the user-space side fills them (USDTSpecMaps.encode). */
struct __bpf_usdt_arg_spec {
	__u64 val_off;                      /* the constant, or the memory offset */
	enum __bpf_usdt_arg_type arg_type;
	short reg_off;                      /* the register's offset in struct pt_regs */
	_Bool arg_signed;
	char arg_bitshift;                  /* 64 minus the argument's width in bits */
};

struct __bpf_usdt_spec {
	struct __bpf_usdt_arg_spec args[BPF_USDT_MAX_ARG_CNT];
	__u64 usdt_cookie;
	short arg_cnt;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BPF_USDT_MAX_SPEC_CNT);
	__type(key, int);
	__type(value, struct __bpf_usdt_spec);
} __bpf_usdt_specs SEC(".maps") __attribute__((weak));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BPF_USDT_MAX_IP_CNT);
	__type(key, long);
	__type(value, __u32);
} __bpf_usdt_ip_to_spec_id SEC(".maps") __attribute__((weak));

/* Set by the loader: whether bpf_get_attach_cookie works for perf-event programs (Linux 5.15). */
extern const _Bool LINUX_HAS_BPF_COOKIE __attribute__((section(".kconfig"), weak));

static __u64 (*const __swift_ebpf_get_attach_cookie)(void *ctx) = (void *)174;

/* Where the instruction pointer sits in the pt_regs a uprobe program gets. */
#if defined(__TARGET_ARCH_arm64)
#define __SWIFT_EBPF_PT_REGS_IP_OFFSET 256 /* user_pt_regs.pc */
#elif defined(__TARGET_ARCH_s390)
#define __SWIFT_EBPF_PT_REGS_IP_OFFSET 16  /* user_pt_regs.psw.addr */
#elif defined(__TARGET_ARCH_riscv)
#define __SWIFT_EBPF_PT_REGS_IP_OFFSET 0   /* user_regs_struct.pc */
#else
#define __SWIFT_EBPF_PT_REGS_IP_OFFSET 128 /* x86-64 pt_regs.ip */
#endif

/* The spec of the probe that fired, or 0. */
static __always_inline struct __bpf_usdt_spec *__swift_ebpf_usdt_spec(struct pt_regs *ctx)
{
	int id;
	if (LINUX_HAS_BPF_COOKIE) {
		id = (int)__swift_ebpf_get_attach_cookie(ctx);
	} else {
		long ip = 0;
		__u32 *found;
		/* The verifier refuses loads from the context at a computed offset; read it instead. */
		if (bpf_probe_read_kernel(&ip, sizeof(ip), (char *)ctx + __SWIFT_EBPF_PT_REGS_IP_OFFSET))
			return 0;
		found = bpf_map_lookup_elem(&__bpf_usdt_ip_to_spec_id, &ip);
		if (!found)
			return 0;
		id = (int)*found;
	}
	return bpf_map_lookup_elem(&__bpf_usdt_specs, &id);
}

/* The probe's argument count, or -3 (ESRCH) when its spec is unknown. */
static __always_inline int bpf_usdt_arg_cnt(struct pt_regs *ctx)
{
	struct __bpf_usdt_spec *spec = __swift_ebpf_usdt_spec(ctx);
	return spec ? spec->arg_cnt : -3;
}

/* The cookie given at attach (USDTOptions.cookie), or 0. */
static __always_inline long bpf_usdt_cookie(struct pt_regs *ctx)
{
	struct __bpf_usdt_spec *spec = __swift_ebpf_usdt_spec(ctx);
	return spec ? (long)spec->usdt_cookie : 0;
}

/* Argument `n` (from 0) widened to 64 bits into *out: 0, or -3 (ESRCH) for an unknown spec, -2
 * (ENOENT) past the argument count, a read error otherwise. *out is 0 on failure. */
static __always_inline int bpf_usdt_arg(struct pt_regs *ctx, __u64 n, long *out)
{
	struct __bpf_usdt_spec *spec = __swift_ebpf_usdt_spec(ctx);
	struct __bpf_usdt_arg_spec *arg;
	unsigned long value = 0;
	long error;

	*out = 0;
	if (!spec)
		return -3;
	if (n >= BPF_USDT_MAX_ARG_CNT || n >= (__u64)spec->arg_cnt)
		return -2;
	arg = &spec->args[n];
	if (arg->arg_type == BPF_USDT_ARG_CONST) {
		value = arg->val_off;
	} else if (arg->arg_type == BPF_USDT_ARG_REG || arg->arg_type == BPF_USDT_ARG_REG_DEREF) {
		error = bpf_probe_read_kernel(&value, sizeof(value), (char *)ctx + arg->reg_off);
		if (error)
			return (int)error;
		if (arg->arg_type == BPF_USDT_ARG_REG_DEREF) {
			error = bpf_probe_read_user(&value, sizeof(value), (void *)(value + arg->val_off));
			if (error)
				return (int)error;
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
			/* The argument is the first bytes read: on big-endian they are the high ones. */
			value >>= arg->arg_bitshift;
#endif
		}
	} else {
		return -22;
	}
	/* Keep the argument's own bits, then sign- or zero-extend them. */
	value <<= arg->arg_bitshift;
	*out = arg->arg_signed ? (long)value >> arg->arg_bitshift : (long)(value >> arg->arg_bitshift);
	return 0;
}

/* BPF_USDT(name, type1 arg1, ...): a program `name(struct pt_regs *ctx)` whose body sees the
 * probe's arguments (up to 12) as typed parameters, plus `ctx`. */
#define __SWIFT_EBPF_USDT_ARG(i) ({ long __value; bpf_usdt_arg(ctx, i, &__value); (void *)__value; })
#define __SWIFT_EBPF_USDT_ARGS0() ctx
#define __SWIFT_EBPF_USDT_ARGS1(a) __SWIFT_EBPF_USDT_ARGS0(), __SWIFT_EBPF_USDT_ARG(0)
#define __SWIFT_EBPF_USDT_ARGS2(a, ...) __SWIFT_EBPF_USDT_ARGS1(__VA_ARGS__), __SWIFT_EBPF_USDT_ARG(1)
#define __SWIFT_EBPF_USDT_ARGS3(a, ...) __SWIFT_EBPF_USDT_ARGS2(__VA_ARGS__), __SWIFT_EBPF_USDT_ARG(2)
#define __SWIFT_EBPF_USDT_ARGS4(a, ...) __SWIFT_EBPF_USDT_ARGS3(__VA_ARGS__), __SWIFT_EBPF_USDT_ARG(3)
#define __SWIFT_EBPF_USDT_ARGS5(a, ...) __SWIFT_EBPF_USDT_ARGS4(__VA_ARGS__), __SWIFT_EBPF_USDT_ARG(4)
#define __SWIFT_EBPF_USDT_ARGS6(a, ...) __SWIFT_EBPF_USDT_ARGS5(__VA_ARGS__), __SWIFT_EBPF_USDT_ARG(5)
#define __SWIFT_EBPF_USDT_COUNT(...) __SWIFT_EBPF_USDT_COUNT_(_, ##__VA_ARGS__, 6, 5, 4, 3, 2, 1, 0)
#define __SWIFT_EBPF_USDT_COUNT_(_, a, b, c, d, e, f, n, ...) n
#define __SWIFT_EBPF_USDT_CAT(a, b) a##b
#define __SWIFT_EBPF_USDT_PICK(n) __SWIFT_EBPF_USDT_CAT(__SWIFT_EBPF_USDT_ARGS, n)
#define BPF_USDT(name, ...)                                                                   \
	name(struct pt_regs *ctx);                                                            \
	static __always_inline int ____##name(struct pt_regs *ctx, ##__VA_ARGS__);            \
	int name(struct pt_regs *ctx)                                                         \
	{                                                                                     \
		_Pragma("GCC diagnostic push")                                                \
		_Pragma("GCC diagnostic ignored \"-Wint-conversion\"")                        \
		return ____##name(__SWIFT_EBPF_USDT_PICK(__SWIFT_EBPF_USDT_COUNT(__VA_ARGS__))(__VA_ARGS__)); \
		_Pragma("GCC diagnostic pop")                                                 \
	}                                                                                     \
	static __always_inline int ____##name(struct pt_regs *ctx, ##__VA_ARGS__)

#endif
