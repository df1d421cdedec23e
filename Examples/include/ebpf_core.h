/* CO-RE reads for swift-ebpf's examples, written for this project: BPF_CORE_READ(src, a, b, c)
 * follows src->a->b->c with one bpf_probe_read_kernel per pointer, each through
 * __builtin_preserve_access_index so clang records a CO-RE relocation and the loader fixes the
 * offsets for the running kernel. Up to three steps; a step may be a member path (uid.val). */
#ifndef SWIFT_EBPF_CORE_H
#define SWIFT_EBPF_CORE_H

#include "ebpf_helpers.h"

/* Copies src->member into *dst. */
#define BPF_CORE_READ_INTO(dst, src, member)                                                       \
	bpf_probe_read_kernel((void *)(dst), sizeof(*(dst)),                                       \
			      (const void *)__builtin_preserve_access_index(&(src)->member))

#define ___core_read1(src, a)                                                                      \
	({                                                                                         \
		__typeof_unqual__((src)->a) ___value;                                                     \
		BPF_CORE_READ_INTO(&___value, src, a);                                             \
		___value;                                                                          \
	})
#define ___core_read2(src, a, b)                                                                   \
	({                                                                                         \
		__typeof__((src)->a) ___first = ___core_read1(src, a);                             \
		___core_read1(___first, b);                                                        \
	})
#define ___core_read3(src, a, b, c)                                                                \
	({                                                                                         \
		__typeof__((src)->a->b) ___second = ___core_read2(src, a, b);                      \
		___core_read1(___second, c);                                                       \
	})
#define ___core_pick(_1, _2, _3, name, ...) name

/* The value of src->a (->b (->c)), read from kernel memory with CO-RE relocations. */
#define BPF_CORE_READ(src, ...) ___core_pick(__VA_ARGS__, ___core_read3, ___core_read2, ___core_read1)(src, __VA_ARGS__)

#endif
