// The only C in swift-ebpf: non-variadic wrappers around the variadic syscall()
// and ioctl(), which Swift cannot call directly, and acquire/release accesses to memory shared
// with the kernel. Nothing else belongs here. The epoll and eventfd headers are included because
// the Glibc module does not export them; the readers wait on ring buffers with them.
#ifndef CEBPF_H
#define CEBPF_H

#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/// bpf(2). Returns the raw result; on failure -1 with errno set.
static inline long cebpf_bpf(int cmd, void *attr, unsigned int size) {
    return syscall(SYS_bpf, cmd, attr, size);
}

/// perf_event_open(2). Returns the new descriptor, or -1 with errno set.
static inline int cebpf_perf_event_open(void *attr, int pid, int cpu, int group_fd, unsigned long flags) {
    return (int)syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, flags);
}

/// ioctl(2) with an integer argument.
static inline int cebpf_ioctl_value(int fd, unsigned long request, unsigned long value) {
    return ioctl(fd, request, value);
}

/// ioctl(2) with a pointer argument.
static inline int cebpf_ioctl_pointer(int fd, unsigned long request, void *pointer) {
    return ioctl(fd, request, pointer);
}

// Memory shared with the kernel (ring buffer positions and record headers) is ordered with the
// kernel's smp_load_acquire/smp_store_release. Swift's Synchronization.Atomic must own its storage
// and cannot be laid over an address inside an mmap'd region, so these wrappers give the C11
// orderings on such addresses. Each is one instruction on x86-64 and arm64.

/// Loads a 64-bit value with acquire ordering.
static inline uint64_t cebpf_load_acquire_u64(const void *address) {
    return __atomic_load_n((const uint64_t *)address, __ATOMIC_ACQUIRE);
}

/// Loads a 32-bit value with acquire ordering.
static inline uint32_t cebpf_load_acquire_u32(const void *address) {
    return __atomic_load_n((const uint32_t *)address, __ATOMIC_ACQUIRE);
}

/// Stores a 64-bit value with release ordering.
static inline void cebpf_store_release_u64(void *address, uint64_t value) {
    __atomic_store_n((uint64_t *)address, value, __ATOMIC_RELEASE);
}

/// Stores a 32-bit value with release ordering.
static inline void cebpf_store_release_u32(void *address, uint32_t value) {
    __atomic_store_n((uint32_t *)address, value, __ATOMIC_RELEASE);
}

/// The calling thread's errno, read right after a failed call.
static inline int cebpf_errno(void) { return errno; }

/// Sets the calling thread's errno (tests that intercept syscalls use it).
static inline void cebpf_set_errno(int value) { errno = value; }

#endif
