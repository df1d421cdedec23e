// cflags: -D__TARGET_ARCH_x86 -DSWIFT_EBPF_OWN_USDT_HEADER
/* testdata/usdt.c's programs built against Examples/include/ebpf_usdt.h instead of libbpf's
 * usdt.bpf.h: the USDT tests run both. */
#include "usdt.c"
