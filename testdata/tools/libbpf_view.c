/* Prints libbpf's view of a BPF object at open time, for the corpus comparison in ELFTests.
 * Built at test time against Debian's libbpf-dev:  clang libbpf_view.c -lbpf -o libbpf_view
 * Output, one line each, sorted by the test:
 *   program <name> <section> <type> <expected_attach_type>
 *   map <name> <type> <key_size> <value_size> <max_entries> <map_flags> */
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>

static int quiet(enum libbpf_print_level level, const char *format, va_list args)
{
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s OBJECT\n", argv[0]);
		return 2;
	}
	libbpf_set_print(quiet);
	FILE *file = fopen(argv[1], "rb");
	if (!file) {
		perror(argv[1]);
		return 1;
	}
	static char buffer[64 << 20];
	size_t size = fread(buffer, 1, sizeof(buffer), file);
	fclose(file);
	struct bpf_object *object = bpf_object__open_mem(buffer, size, NULL);
	if (!object) {
		fprintf(stderr, "%s: libbpf cannot open it\n", argv[1]);
		return 1;
	}
	struct bpf_program *program;
	bpf_object__for_each_program(program, object) {
		printf("program %s %s %u %u\n", bpf_program__name(program), bpf_program__section_name(program),
		       (unsigned)bpf_program__type(program), (unsigned)bpf_program__expected_attach_type(program));
	}
	struct bpf_map *map;
	bpf_object__for_each_map(map, object) {
		printf("map %s %u %u %u %u %u\n", bpf_map__name(map), (unsigned)bpf_map__type(map),
		       bpf_map__key_size(map), bpf_map__value_size(map), bpf_map__max_entries(map),
		       bpf_map__map_flags(map));
	}
	bpf_object__close(object);
	return 0;
}
