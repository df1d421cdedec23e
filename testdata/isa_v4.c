// cflags: -mcpu=v4
/* Instruction coverage for -mcpu=v4 (the newer additions to the instruction set):
 * signed division and modulo, sign-extending moves and loads, unconditional byte
 * swaps, the 32-bit-offset jump, may_goto, addr_space_cast, load-acquire and
 * store-release, and the pseudo forms of the 64-bit immediate load. The asm blocks
 * are not meant to pass the verifier; they exist so that decoders see each opcode
 * as clang emits it. */
#include "bpf_defs.h"

char _license[] SEC("license") = "GPL";

SEC("socket")
int isa_v4_alu(struct __sk_buff *skb)
{
	asm volatile(
		"r1 = 100\n"
		"r2 = 3\n"
		"r1 s/= 3\n"        /* ALU64 sdiv K (off 1) */
		"r1 s/= r2\n"       /* ALU64 sdiv X */
		"r1 s%%= 3\n"       /* ALU64 smod K (off 1) */
		"r1 s%%= r2\n"      /* ALU64 smod X */
		"w1 s/= 3\n"        /* ALU sdiv K */
		"w1 s/= w2\n"       /* ALU sdiv X */
		"w1 s%%= 3\n"       /* ALU smod K */
		"w1 s%%= w2\n"      /* ALU smod X */
		"r3 = (s8)r1\n"     /* ALU64 movsx 8 */
		"r3 = (s16)r1\n"    /* ALU64 movsx 16 */
		"r3 = (s32)r1\n"    /* ALU64 movsx 32 */
		"w3 = (s8)w1\n"     /* ALU movsx 8 */
		"w3 = (s16)w1\n"    /* ALU movsx 16 */
		"r1 = bswap16 r1\n" /* ALU64 END bswap 16 */
		"r1 = bswap32 r1\n" /* ALU64 END bswap 32 */
		"r1 = bswap64 r1\n" /* ALU64 END bswap 64 */
		"r1 = addr_space_cast(r2, 0, 1)\n" /* ALU64 MOV X off 1 */
		"r1 = addr_space_cast(r2, 1, 0)\n"
		::: "r1", "r2", "r3", "memory");
	return 0;
}

SEC("socket")
int isa_v4_jmp(struct __sk_buff *skb)
{
	asm volatile(
		"gotol +0\n"        /* JMP32 ja with a 32-bit immediate offset */
		"may_goto +0\n"     /* JMP jcond (0xe5) */
		"gotol +1\n"
		"r0 = 0\n"
		"may_goto +1\n"
		"r0 = 1\n"
		::: "r0", "memory");
	return 0;
}

SEC("socket")
int isa_v4_mem(struct __sk_buff *skb)
{
	__u64 slot = 0;
	asm volatile(
		"r1 = %[slot]\n"
		"r2 = 7\n"
		"r0 = *(s8 *)(r1 + 0)\n"                       /* LDX MEMSX B */
		"r0 = *(s16 *)(r1 + 0)\n"                      /* LDX MEMSX H */
		"r0 = *(s32 *)(r1 + 0)\n"                      /* LDX MEMSX W */
		"w0 = load_acquire((u8 *)(r1 + 0))\n"          /* STX ATOMIC B load_acquire */
		"w0 = load_acquire((u16 *)(r1 + 0))\n"         /* STX ATOMIC H load_acquire */
		"w0 = load_acquire((u32 *)(r1 + 0))\n"         /* STX ATOMIC W load_acquire */
		"r0 = load_acquire((u64 *)(r1 + 0))\n"         /* STX ATOMIC DW load_acquire */
		"store_release((u8 *)(r1 + 0), w2)\n"          /* STX ATOMIC B store_release */
		"store_release((u16 *)(r1 + 0), w2)\n"         /* STX ATOMIC H store_release */
		"store_release((u32 *)(r1 + 0), w2)\n"         /* STX ATOMIC W store_release */
		"store_release((u64 *)(r1 + 0), r2)\n"         /* STX ATOMIC DW store_release */
		:: [slot] "r"(&slot) : "r0", "r1", "r2", "memory");
	return 0;
}

SEC("socket")
int isa_v4_ld_pseudo(struct __sk_buff *skb)
{
	/* The src_reg forms of LD imm64 that a loader writes after relocation;
	 * clang's ld_pseudo spells them out directly. */
	asm volatile(
		"ld_pseudo r1, 1, 3\n"   /* BPF_PSEUDO_MAP_FD: map by fd */
		"ld_pseudo r1, 2, 3\n"   /* BPF_PSEUDO_MAP_VALUE: map value by fd */
		"ld_pseudo r1, 3, 7\n"   /* BPF_PSEUDO_BTF_ID: variable by BTF id */
		"ld_pseudo r1, 4, 0\n"   /* BPF_PSEUDO_FUNC: code address */
		"ld_pseudo r1, 5, 0\n"   /* BPF_PSEUDO_MAP_IDX: map by index */
		"ld_pseudo r1, 6, 0\n"   /* BPF_PSEUDO_MAP_IDX_VALUE: map value by index */
		::: "r1", "memory");
	return 0;
}

SEC("socket")
int isa_v4_callx(struct __sk_buff *skb)
{
	/* LLVM's indirect call (CALL with src X); not in the kernel's instruction set. */
	asm volatile(
		"r1 = 0\n"
		"callx r1\n"
		::: "r0", "r1", "r2", "r3", "r4", "r5", "memory");
	return 0;
}

SEC("socket")
int isa_v4_kfunc_by_id(struct __sk_buff *skb)
{
	/* A kfunc call by BTF id (CALL with src 2), as a loader leaves it after resolving a
	 * kfunc. clang only emits src 1 plus a relocation and has no assembler syntax for
	 * src 2, so the instruction is spelled as bytes: call BTF id 1. */
	asm volatile(
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		".byte 0x85, 0x20, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00\n"
#else
		".byte 0x85, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01\n"
#endif
		::: "r0", "r1", "r2", "r3", "r4", "r5", "memory");
	return 0;
}
