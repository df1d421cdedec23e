/* CO-RE macros for the swift-ebpf testdata programs, written for this project.
 *
 * Each macro wraps one of clang's CO-RE builtins, which record a relocation in
 * .BTF.ext (struct bpf_core_relo) and emit the value for the compiling
 * program's own types. The second argument of the builtins is the relocation
 * kind (enum bpf_core_relo_kind for fields, enum bpf_type_info_kind for types,
 * enum bpf_enum_value_kind for enumerators, enum bpf_type_id_kind for ids). */
#ifndef SWIFT_EBPF_CORE_DEFS_H
#define SWIFT_EBPF_CORE_DEFS_H

#include "bpf_defs.h"

/* Field kinds (enum bpf_field_info_kind). */
#define CORE_FIELD_BYTE_OFFSET 0
#define CORE_FIELD_BYTE_SIZE 1
#define CORE_FIELD_EXISTS 2
#define CORE_FIELD_SIGNED 3
#define CORE_FIELD_LSHIFT_U64 4
#define CORE_FIELD_RSHIFT_U64 5

/* Type id kinds (enum bpf_type_id_kind). */
#define CORE_TYPE_ID_LOCAL 0
#define CORE_TYPE_ID_TARGET 1

/* Type kinds (enum bpf_type_info_kind). */
#define CORE_TYPE_EXISTS 0
#define CORE_TYPE_SIZE 1
#define CORE_TYPE_MATCHES 2

/* Enumerator kinds (enum bpf_enum_value_kind). */
#define CORE_ENUMVAL_EXISTS 0
#define CORE_ENUMVAL_VALUE 1

#define core_field_offset(field) __builtin_preserve_field_info(field, CORE_FIELD_BYTE_OFFSET)
#define core_field_size(field) __builtin_preserve_field_info(field, CORE_FIELD_BYTE_SIZE)
#define core_field_exists(field) __builtin_preserve_field_info(field, CORE_FIELD_EXISTS)
#define core_field_signed(field) __builtin_preserve_field_info(field, CORE_FIELD_SIGNED)
#define core_field_lshift(field) __builtin_preserve_field_info(field, CORE_FIELD_LSHIFT_U64)
#define core_field_rshift(field) __builtin_preserve_field_info(field, CORE_FIELD_RSHIFT_U64)

#define core_type_id_local(type) __builtin_btf_type_id(*(typeof(type) *)0, CORE_TYPE_ID_LOCAL)
#define core_type_id_target(type) __builtin_btf_type_id(*(typeof(type) *)0, CORE_TYPE_ID_TARGET)
#define core_type_exists(type) __builtin_preserve_type_info(*(typeof(type) *)0, CORE_TYPE_EXISTS)
#define core_type_size(type) __builtin_preserve_type_info(*(typeof(type) *)0, CORE_TYPE_SIZE)
#define core_type_matches(type) __builtin_preserve_type_info(*(typeof(type) *)0, CORE_TYPE_MATCHES)

#define core_enum_value_exists(enum_type, value) \
	__builtin_preserve_enum_value(*(typeof(enum_type) *)value, CORE_ENUMVAL_EXISTS)
#define core_enum_value(enum_type, value) \
	__builtin_preserve_enum_value(*(typeof(enum_type) *)value, CORE_ENUMVAL_VALUE)

/* A relocated read of a field through bpf_probe_read_kernel (helper 113). */
static long (*probe_read_kernel)(void *dst, __u32 size, const void *src) = (void *)113;

#define core_read_into(dst, src, field) \
	probe_read_kernel((void *)(dst), sizeof(*(dst)), (const void *)__builtin_preserve_access_index(&(src)->field))

/* Reads a bitfield the way libbpf's BPF_CORE_READ_BITFIELD_PROBED does: load the
 * relocated byte size at the relocated offset, then shift left and right. */
#define core_read_bitfield(src, field) ({ \
	unsigned long long __value = 0; \
	unsigned int __size = core_field_size((src)->field); \
	const void *__at = (const void *)(src) + core_field_offset((src)->field); \
	probe_read_kernel(&__value, __size, __at); \
	__value <<= core_field_lshift((src)->field); \
	if (core_field_signed((src)->field)) \
		__value = ((long long)__value) >> core_field_rshift((src)->field); \
	else \
		__value = __value >> core_field_rshift((src)->field); \
	__value; \
})

#define __core __attribute__((preserve_access_index))

#endif
