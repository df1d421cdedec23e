// cflags:
/* Externs: .kconfig values and .ksyms kernel variables and kfuncs, strong and weak. */
#include "bpf_defs.h"

char _license[] SEC("license") = "GPL";

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern _Bool CONFIG_BPF_SYSCALL __kconfig __weak;
extern char CONFIG_DEFAULT_HOSTNAME[16] __kconfig __weak;
extern unsigned long long CONFIG_HZ __kconfig __weak;

extern const void bpf_prog_active __ksym;
extern const int typed_counter __ksym __weak;
extern __u64 bpf_ktime_get_coarse_ns_kfunc(void) __ksym;
extern int maybe_kfunc(int x) __ksym __weak;

SEC("tp_btf/sched_switch")
int read_externs(void *ctx)
{
	__u64 sum = LINUX_KERNEL_VERSION + CONFIG_HZ + CONFIG_DEFAULT_HOSTNAME[0];
	if (CONFIG_BPF_SYSCALL)
		sum += 1;
	sum += (__u64)&bpf_prog_active;
	sum += (__u64)&typed_counter;
	sum += bpf_ktime_get_coarse_ns_kfunc();
	if (maybe_kfunc)
		sum += maybe_kfunc(1);
	return sum & 1;
}
