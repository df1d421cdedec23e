// libbpf's BTF API, as Debian's libbpf-dev installs it.
#include <bpf/btf.h>
#include <bpf/libbpf.h>
