// cflags: -mcpu=v3
/* Instruction coverage for -mcpu=v3: every ALU, ALU64, JMP and JMP32 operation
 * with immediate (K) and register (X) sources, byte order conversions, 64-bit
 * immediates, legacy packet loads, loads and stores of every size, and the
 * atomic operations. The asm blocks are never meant to pass the verifier; they
 * exist so that decoders see each opcode as clang emits it. */
#include "bpf_defs.h"

char _license[] SEC("license") = "GPL";

extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} isa_map SEC(".maps");

__u64 isa_global = 1;

static __noinline __u64 isa_subprog(__u64 v)
{
	volatile __u64 x = v;
	return x + 1;
}

SEC("socket")
int isa_alu(struct __sk_buff *skb)
{
	asm volatile(
		"r1 = 1\n"
		"r2 = 2\n"
		"r1 += 3\n"   /* ALU64 add K */
		"r1 += r2\n"  /* ALU64 add X */
		"r1 -= 3\n"   /* ALU64 sub K */
		"r1 -= r2\n"  /* ALU64 sub X */
		"r1 *= 3\n"   /* ALU64 mul K */
		"r1 *= r2\n"  /* ALU64 mul X */
		"r1 /= 3\n"   /* ALU64 div K */
		"r1 /= r2\n"  /* ALU64 div X */
		"r1 |= 3\n"   /* ALU64 or K */
		"r1 |= r2\n"  /* ALU64 or X */
		"r1 &= 3\n"   /* ALU64 and K */
		"r1 &= r2\n"  /* ALU64 and X */
		"r1 <<= 3\n"   /* ALU64 lsh K */
		"r1 <<= r2\n"  /* ALU64 lsh X */
		"r1 >>= 3\n"   /* ALU64 rsh K */
		"r1 >>= r2\n"  /* ALU64 rsh X */
		"r1 %%= 3\n"   /* ALU64 mod K */
		"r1 %%= r2\n"  /* ALU64 mod X */
		"r1 ^= 3\n"   /* ALU64 xor K */
		"r1 ^= r2\n"  /* ALU64 xor X */
		"r1 s>>= 3\n"   /* ALU64 arsh K */
		"r1 s>>= r2\n"  /* ALU64 arsh X */
		"r1 = -r1\n"     /* ALU64 neg */
		"r1 = 9\n"       /* ALU64 mov K */
		"r1 = r2\n"      /* ALU64 mov X */
		"w1 += 3\n"   /* ALU add K */
		"w1 += w2\n"  /* ALU add X */
		"w1 -= 3\n"   /* ALU sub K */
		"w1 -= w2\n"  /* ALU sub X */
		"w1 *= 3\n"   /* ALU mul K */
		"w1 *= w2\n"  /* ALU mul X */
		"w1 /= 3\n"   /* ALU div K */
		"w1 /= w2\n"  /* ALU div X */
		"w1 |= 3\n"   /* ALU or K */
		"w1 |= w2\n"  /* ALU or X */
		"w1 &= 3\n"   /* ALU and K */
		"w1 &= w2\n"  /* ALU and X */
		"w1 <<= 3\n"   /* ALU lsh K */
		"w1 <<= w2\n"  /* ALU lsh X */
		"w1 >>= 3\n"   /* ALU rsh K */
		"w1 >>= w2\n"  /* ALU rsh X */
		"w1 %%= 3\n"   /* ALU mod K */
		"w1 %%= w2\n"  /* ALU mod X */
		"w1 ^= 3\n"   /* ALU xor K */
		"w1 ^= w2\n"  /* ALU xor X */
		"w1 s>>= 3\n"   /* ALU arsh K */
		"w1 s>>= w2\n"  /* ALU arsh X */
		"w1 = -w1\n"     /* ALU neg */
		"w1 = 9\n"       /* ALU mov K */
		"w1 = w2\n"      /* ALU mov X */
		"r1 = le16 r1\n" /* ALU END to_le */
		"r1 = le32 r1\n"
		"r1 = le64 r1\n"
		"r1 = be16 r1\n" /* ALU END to_be */
		"r1 = be32 r1\n"
		"r1 = be64 r1\n"
		::: "r1", "r2", "memory");
	return 0;
}

SEC("socket")
int isa_jmp(struct __sk_buff *skb)
{
	asm volatile(
		"r1 = 1\n"
		"r2 = 2\n"
		"goto +0\n"      /* JMP ja */
		"if r1 == 7 goto +0\n"   /* JMP jeq K */
		"if r1 == r2 goto +0\n"  /* JMP jeq X */
		"if r1 > 7 goto +0\n"   /* JMP jgt K */
		"if r1 > r2 goto +0\n"  /* JMP jgt X */
		"if r1 >= 7 goto +0\n"   /* JMP jge K */
		"if r1 >= r2 goto +0\n"  /* JMP jge X */
		"if r1 & 7 goto +0\n"   /* JMP jset K */
		"if r1 & r2 goto +0\n"  /* JMP jset X */
		"if r1 != 7 goto +0\n"   /* JMP jne K */
		"if r1 != r2 goto +0\n"  /* JMP jne X */
		"if r1 s> 7 goto +0\n"   /* JMP jsgt K */
		"if r1 s> r2 goto +0\n"  /* JMP jsgt X */
		"if r1 s>= 7 goto +0\n"   /* JMP jsge K */
		"if r1 s>= r2 goto +0\n"  /* JMP jsge X */
		"if r1 < 7 goto +0\n"   /* JMP jlt K */
		"if r1 < r2 goto +0\n"  /* JMP jlt X */
		"if r1 <= 7 goto +0\n"   /* JMP jle K */
		"if r1 <= r2 goto +0\n"  /* JMP jle X */
		"if r1 s< 7 goto +0\n"   /* JMP jslt K */
		"if r1 s< r2 goto +0\n"  /* JMP jslt X */
		"if r1 s<= 7 goto +0\n"   /* JMP jsle K */
		"if r1 s<= r2 goto +0\n"  /* JMP jsle X */
		"if w1 == 7 goto +0\n"   /* JMP32 jeq K */
		"if w1 == w2 goto +0\n"  /* JMP32 jeq X */
		"if w1 > 7 goto +0\n"   /* JMP32 jgt K */
		"if w1 > w2 goto +0\n"  /* JMP32 jgt X */
		"if w1 >= 7 goto +0\n"   /* JMP32 jge K */
		"if w1 >= w2 goto +0\n"  /* JMP32 jge X */
		"if w1 & 7 goto +0\n"   /* JMP32 jset K */
		"if w1 & w2 goto +0\n"  /* JMP32 jset X */
		"if w1 != 7 goto +0\n"   /* JMP32 jne K */
		"if w1 != w2 goto +0\n"  /* JMP32 jne X */
		"if w1 s> 7 goto +0\n"   /* JMP32 jsgt K */
		"if w1 s> w2 goto +0\n"  /* JMP32 jsgt X */
		"if w1 s>= 7 goto +0\n"   /* JMP32 jsge K */
		"if w1 s>= w2 goto +0\n"  /* JMP32 jsge X */
		"if w1 < 7 goto +0\n"   /* JMP32 jlt K */
		"if w1 < w2 goto +0\n"  /* JMP32 jlt X */
		"if w1 <= 7 goto +0\n"   /* JMP32 jle K */
		"if w1 <= w2 goto +0\n"  /* JMP32 jle X */
		"if w1 s< 7 goto +0\n"   /* JMP32 jslt K */
		"if w1 s< w2 goto +0\n"  /* JMP32 jslt X */
		"if w1 s<= 7 goto +0\n"   /* JMP32 jsle K */
		"if w1 s<= w2 goto +0\n"  /* JMP32 jsle X */
		::: "r1", "r2", "memory");
	return 0;
}

SEC("socket")
int isa_mem(struct __sk_buff *skb)
{
	__u64 slot = 0;
	asm volatile(
		"r1 = %[slot]\n"
		"r2 = 5\n"
		"r3 = 0x1122334455667788 ll\n"  /* LD imm64 */
		"r0 = *(u8 *)(r1 + 0)\n"        /* LDX MEM B */
		"r0 = *(u16 *)(r1 + 0)\n"       /* LDX MEM H */
		"r0 = *(u32 *)(r1 + 0)\n"       /* LDX MEM W */
		"r0 = *(u64 *)(r1 + 0)\n"       /* LDX MEM DW */
		"*(u8 *)(r1 + 0) = 1\n"         /* ST MEM B */
		"*(u16 *)(r1 + 0) = 2\n"        /* ST MEM H */
		"*(u32 *)(r1 + 0) = 3\n"        /* ST MEM W */
		"*(u64 *)(r1 + 0) = 4\n"        /* ST MEM DW */
		"*(u8 *)(r1 + 0) = r2\n"        /* STX MEM B */
		"*(u16 *)(r1 + 0) = r2\n"       /* STX MEM H */
		"*(u32 *)(r1 + 0) = r2\n"       /* STX MEM W */
		"*(u64 *)(r1 + 0) = r2\n"       /* STX MEM DW */
		:: [slot] "r"(&slot) : "r0", "r1", "r2", "r3", "memory");
	return 0;
}

SEC("socket")
int isa_packet(struct __sk_buff *skb)
{
	/* Legacy packet access reads from the context in r6. */
	asm volatile(
		"r6 = %[skb]\n"
		"r1 = 2\n"
		"r0 = *(u8 *)skb[12]\n"     /* LD ABS B */
		"r0 = *(u16 *)skb[12]\n"    /* LD ABS H */
		"r0 = *(u32 *)skb[12]\n"    /* LD ABS W */
		"r0 = *(u8 *)skb[r1]\n"     /* LD IND B */
		"r0 = *(u16 *)skb[r1]\n"    /* LD IND H */
		"r0 = *(u32 *)skb[r1]\n"    /* LD IND W */
		:: [skb] "r"(skb) : "r0", "r1", "r6", "memory");
	return 0;
}

SEC("socket")
int isa_atomic(struct __sk_buff *skb)
{
	__u64 slot = 0;
	asm volatile(
		"r1 = %[slot]\n"
		"r2 = 1\n"
		"lock *(u32 *)(r1 + 0) += w2\n"                  /* ATOMIC W add */
		"lock *(u32 *)(r1 + 0) |= w2\n"                  /* ATOMIC W or */
		"lock *(u32 *)(r1 + 0) &= w2\n"                  /* ATOMIC W and */
		"lock *(u32 *)(r1 + 0) ^= w2\n"                  /* ATOMIC W xor */
		"w2 = atomic_fetch_add((u32 *)(r1 + 0), w2)\n"   /* ATOMIC W add|fetch */
		"w2 = atomic_fetch_or((u32 *)(r1 + 0), w2)\n"
		"w2 = atomic_fetch_and((u32 *)(r1 + 0), w2)\n"
		"w2 = atomic_fetch_xor((u32 *)(r1 + 0), w2)\n"
		"w2 = xchg32_32(r1 + 0, w2)\n"                   /* ATOMIC W xchg */
		"w0 = cmpxchg32_32(r1 + 0, w0, w2)\n"            /* ATOMIC W cmpxchg */
		"lock *(u64 *)(r1 + 0) += r2\n"                  /* ATOMIC DW add */
		"lock *(u64 *)(r1 + 0) |= r2\n"
		"lock *(u64 *)(r1 + 0) &= r2\n"
		"lock *(u64 *)(r1 + 0) ^= r2\n"
		"r2 = atomic_fetch_add((u64 *)(r1 + 0), r2)\n"   /* ATOMIC DW add|fetch */
		"r2 = atomic_fetch_or((u64 *)(r1 + 0), r2)\n"
		"r2 = atomic_fetch_and((u64 *)(r1 + 0), r2)\n"
		"r2 = atomic_fetch_xor((u64 *)(r1 + 0), r2)\n"
		"r2 = xchg_64(r1 + 0, r2)\n"                     /* ATOMIC DW xchg */
		"r0 = cmpxchg_64(r1 + 0, r0, r2)\n"              /* ATOMIC DW cmpxchg */
		:: [slot] "r"(&slot) : "r0", "r1", "r2", "memory");
	return 0;
}

static long isa_callback(__u32 index, void *ctx)
{
	return 0;
}

SEC("socket")
int isa_calls(struct __sk_buff *skb)
{
	__u32 key = 0;
	/* Compiler-emitted pseudo loads: a map reference, a global's address, a callback. */
	__u64 *value = bpf_map_lookup_elem(&isa_map, &key);   /* call helper, lddw map */
	if (value)
		*value += isa_global;                              /* lddw global (map value) */
	bpf_loop(1, isa_callback, NULL, 0);                    /* lddw func */
	bpf_rcu_read_lock();                                   /* call kfunc */
	bpf_rcu_read_unlock();
	asm volatile(
		"call 5\n"                  /* JMP call helper by id */
		"call isa_subprog\n"        /* JMP call pseudo (bpf-to-bpf) */
		"r1 = isa_map ll\n"         /* LD imm64 with a map relocation */
		"r1 = isa_global ll\n"      /* LD imm64 with a data relocation */
		"r1 = isa_callback ll\n"    /* LD imm64 with a function relocation */
		::: "r0", "r1", "r2", "r3", "r4", "r5", "memory");
	return (int)isa_subprog(skb->len);                     /* call pseudo, exit */
}
