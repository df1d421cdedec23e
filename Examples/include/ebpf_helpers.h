/* The few BPF declarations swift-ebpf's examples and tests need, written for this project so that
 * nothing beyond the Swift toolchain (whose clang has the BPF target) is needed to build them.
 * Helper numbers and constants are the kernel's (include/uapi/linux/bpf.h). */
#ifndef SWIFT_EBPF_HELPERS_H
#define SWIFT_EBPF_HELPERS_H

typedef signed char __s8;
typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;

#define SEC(name) __attribute__((section(name), used))
#define __always_inline inline __attribute__((always_inline))

/* BTF-defined map attributes, as libbpf spells them. */
#define __uint(name, value) int (*name)[value]
#define __type(name, type) type *name

/* Map types (enum bpf_map_type). */
#define BPF_MAP_TYPE_HASH 1
#define BPF_MAP_TYPE_ARRAY 2
#define BPF_MAP_TYPE_PERCPU_ARRAY 6
#define BPF_MAP_TYPE_RINGBUF 27

/* Update flags. */
#define BPF_ANY 0
#define BPF_NOEXIST 1
#define BPF_EXIST 2

/* The map definition of the legacy "maps" section. Current libbpf dropped it in favour of BTF-defined
 * maps in ".maps"; loaders (libbpf before 1.0, cilium/ebpf, swift-ebpf) still read it. */
struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

/* Helpers: a call through a constant function pointer whose value is the helper's number. */
static void *(*const bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*const bpf_map_update_elem)(void *map, const void *key, const void *value, __u64 flags) = (void *)2;
static long (*const bpf_map_delete_elem)(void *map, const void *key) = (void *)3;
static __u64 (*const bpf_ktime_get_ns)(void) = (void *)5;
static __u64 (*const bpf_get_current_pid_tgid)(void) = (void *)14;
static __u64 (*const bpf_get_current_uid_gid)(void) = (void *)15;
static long (*const bpf_get_current_comm)(void *buffer, __u32 size) = (void *)16;
static __u64 (*const bpf_get_current_task)(void) = (void *)35;
static long (*const bpf_probe_read_user)(void *destination, __u32 size, const void *source) = (void *)112;
static long (*const bpf_probe_read_kernel)(void *destination, __u32 size, const void *source) = (void *)113;
static long (*const bpf_probe_read_user_str)(void *destination, __u32 size, const void *source) = (void *)114;
static long (*const bpf_ringbuf_output)(void *ring, void *data, __u64 size, __u64 flags) = (void *)130;
static void *(*const bpf_ringbuf_reserve)(void *ring, __u64 size, __u64 flags) = (void *)131;
static void (*const bpf_ringbuf_submit)(void *data, __u64 flags) = (void *)132;

#endif
