/* A USDT handler written against libbpf's <bpf/usdt.bpf.h> (Debian's libbpf-dev), compiled by
 * the test that loads it. The header's bpf_usdt_arg, bpf_usdt_arg_cnt and bpf_usdt_cookie are
 * weak hidden global functions, and its two maps are weak: libbpf verifies the functions as
 * static ones, in the handler's context. */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/usdt.bpf.h>

char LICENSE[] SEC("license") = "GPL";

long total;

SEC("usdt")
int BPF_USDT(on_probe, long first, long second)
{
	total += first + second + bpf_usdt_arg_cnt(ctx) + bpf_usdt_cookie(ctx);
	return 0;
}
