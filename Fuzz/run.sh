#!/bin/sh
# Builds one libFuzzer target of swift-ebpf and runs it on the target's seed corpus (which the
# target writes itself: `TARGET --write-seeds DIR`; from the testdata objects and, for BTF, the
# host's vmlinux BTF).
#   Fuzz/run.sh fuzz-elffile|fuzz-btf|fuzz-btfext|fuzz-netlink [RUNS]     (RUNS defaults to 1000000 executions)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
target=${1:?usage: run.sh TARGET [RUNS]}
runs=${2:-1000000}
export PATH="/opt/swift/usr/bin:$PATH"
swift build -c release --package-path "$here" --product "$target" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
"$here/.build/release/$target" --write-seeds "$corpus"
"$here/.build/release/$target" -runs="$runs" -max_len=65536 -print_final_stats=1 "$corpus"
