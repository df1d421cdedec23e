// cflags:
/* An __arena global without an arena map: the reader must refuse it, as libbpf
 * does, since the global has no memory to live in. */
#include "bpf_defs.h"

#define __arena __attribute__((address_space(1)))

char _license[] SEC("license") = "GPL";

__u64 __arena orphan = 1;

SEC("socket")
int read_orphan(void *ctx)
{
	return orphan;
}
