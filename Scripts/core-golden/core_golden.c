// Writes what libbpf does to the CO-RE relocations of a BPF object for a given target BTF, as
// golden data for swift-ebpf's tests. Links Debian's libbpf (libbpf-dev); the library itself never
// does. libbpf applies CO-RE while loading, so this needs root; the program loads themselves may
// fail afterwards (the target BTF is not the running kernel's), which does not matter: only the
// relocation decisions that libbpf logs at debug level are kept.
//
// Usage: core_golden OBJECT TARGET_BTF   (prints one line per decision to stdout)
#include <bpf/libbpf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int print(enum libbpf_print_level level, const char *format, va_list args)
{
	char line[1024];
	vsnprintf(line, sizeof(line), format, args);
	if (strstr(line, ": relo #") == NULL)
		return 0;
	if (strstr(line, "patched insn") || strstr(line, "substituting insn") || strstr(line, "ambiguity") ||
	    strstr(line, "unexpected insn"))
		fputs(line, stdout);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s OBJECT TARGET_BTF\n", argv[0]);
		return 2;
	}
	libbpf_set_print(print);
	LIBBPF_OPTS(bpf_object_open_opts, opts, .btf_custom_path = argv[2]);
	struct bpf_object *object = bpf_object__open_file(argv[1], &opts);
	if (object == NULL) {
		fprintf(stderr, "cannot open %s\n", argv[1]);
		return 1;
	}
	bpf_object__load(object);
	bpf_object__close(object);
	return 0;
}
