/* A host program (not BPF), built at test time against Debian's libbpf-dev: loads each
 * program of a BPF object on its own with libbpf (every other program's autoload off) and
 * prints one line per program, "<name> <0 or -errno>", for the loader's libbpf-tools corpus
 * comparison (`ebpf load --json` must load every program libbpf loads). An optional second
 * argument is the directory maps pinned by name go to (libbpf's pin_root_path). */
#include <bpf/libbpf.h>
#include <stdio.h>
#include <string.h>

static int quiet(enum libbpf_print_level level, const char *format, va_list args)
{
	(void)level;
	(void)format;
	(void)args;
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_object *probe;
	struct bpf_program *program;
	const char *names[512];
	int count = 0;

	LIBBPF_OPTS(bpf_object_open_opts, options);

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: %s OBJECT [PIN_ROOT]\n", argv[0]);
		return 2;
	}
	if (argc == 3)
		options.pin_root_path = argv[2];
	libbpf_set_print(quiet);
	probe = bpf_object__open_file(argv[1], &options);
	if (!probe)
		return 1;
	bpf_object__for_each_program(program, probe) {
		if (count < 512)
			names[count++] = strdup(bpf_program__name(program));
	}
	bpf_object__close(probe);

	for (int i = 0; i < count; i++) {
		struct bpf_object *object = bpf_object__open_file(argv[1], &options);
		int status;

		if (!object)
			return 1;
		bpf_object__for_each_program(program, object)
			bpf_program__set_autoload(program, strcmp(bpf_program__name(program), names[i]) == 0);
		status = bpf_object__load(object);
		printf("%s %d\n", names[i], status);
		bpf_object__close(object);
	}
	return 0;
}
