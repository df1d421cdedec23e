#!/bin/sh
# Regenerates testdata/core-golden/*.txt: libbpf's CO-RE decisions for each CO-RE testdata object
# (little-endian build) against each committed kernel BTF, and core_ambiguous against core_target.o. Needs root, a C compiler and libbpf-dev.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/testdata/core-golden"
mkdir -p "$out"
tool=$(mktemp)
trap 'rm -f "$tool"' EXIT
cc -O1 -Wall -o "$tool" "$here/core_golden.c" -lbpf
for object in core_fields core_bitfields core_types core_enums core_ambiguous; do
	for kernel in 6.1 6.18; do
		"$tool" "$root/testdata/$object-el.o" "$root/testdata/btf/vmlinux-$kernel.btf" \
			>"$out/$object-$kernel.txt"
		echo "wrote core-golden/$object-$kernel.txt ($(wc -l <"$out/$object-$kernel.txt") decisions)"
	done
done
# struct amb and enum amb_enum have disagreeing flavours in core_target.o, a user-supplied target.
"$tool" "$root/testdata/core_ambiguous-el.o" "$root/testdata/core_target-el.o" >"$out/core_ambiguous-user.txt"
echo "wrote core-golden/core_ambiguous-user.txt ($(wc -l <"$out/core_ambiguous-user.txt") decisions)"
