// libbpf's BTF, object and syscall-wrapper APIs, as Debian's libbpf-dev installs them.
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
