// The only C in swift-ebpf: non-variadic wrappers around the variadic syscall()
// and ioctl(), which Swift cannot call directly. Nothing else belongs here.
#ifndef CEBPF_H
#define CEBPF_H

#include <errno.h>
#include <stdint.h>
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

/// The calling thread's errno, read right after a failed call.
static inline int cebpf_errno(void) { return errno; }

/// Sets the calling thread's errno (tests that intercept syscalls use it).
static inline void cebpf_set_errno(int value) { errno = value; }

#endif
