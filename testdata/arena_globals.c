// cflags:
/* Globals in a BPF arena, declared as libbpf 1.4's __arena does: clang's
 * address space 1, which it places in the ELF section .addr_space.1. The
 * loader copies that section to the start of the arena (libbpf 1.4-1.6's
 * placement), and the program reaches each global at the arena's user address
 * plus the global's offset. */
#include "bpf_defs.h"

#define __arena __attribute__((address_space(1)))

char _license[] SEC("license") = "GPL";

struct {
	__uint(type, 33); /* BPF_MAP_TYPE_ARENA */
	__uint(map_flags, 1 << 10); /* BPF_F_MMAPABLE */
	__uint(max_entries, 2); /* pages */
} arena SEC(".maps");

/* Initialised in C: these bytes are in the object and reach the arena at load. */
__u64 __arena arena_initial = 0x1122334455667788ull;
__u32 __arena arena_primes[4] = {2, 3, 5, 7};
/* Zero at load; the program writes them. */
__u64 __arena arena_sum;
__u64 __arena arena_echo;
/* Written by user space after loading, read by the program. */
__u64 __arena arena_from_user;

/* arena_sum = arena_initial + the primes; arena_echo = arena_from_user + 1. */
SEC("socket")
int arena_globals_update(void *ctx)
{
	__u64 sum = arena_initial;

	for (int i = 0; i < 4; i++)
		sum += arena_primes[i];
	arena_sum = sum;
	arena_echo = arena_from_user + 1;
	return 0;
}
