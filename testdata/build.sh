#!/bin/sh
# Rebuilds every testdata/*.c for both BPF byte orders:
#   <name>.c -> <name>-el.o (bpfel) and <name>-eb.o (bpfeb)
# Extra compiler flags for a file come from its first line: "// cflags: ...".
# Uses $CLANG if set, otherwise clang from PATH (the Swift toolchain's clang has the BPF target).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
clang=${CLANG:-clang}

# Compile from inside testdata with a fixed compilation directory so that the
# debug info, and so the committed objects, do not depend on the checkout path.
cd "$here"
for source in *.c; do
	name=${source%.c}
	first=$(head -n 1 "$source")
	extra=""
	case "$first" in
	"// cflags:"*) extra=${first#"// cflags:"} ;;
	esac
	for order in el eb; do
		# shellcheck disable=SC2086 # extra holds several flags on purpose
		"$clang" -target "bpf$order" -O2 -g -Wall -Werror \
			-fdebug-compilation-dir=testdata \
			-I include $extra \
			-c "$source" -o "$name-$order.o"
		echo "built $name-$order.o"
	done
done
