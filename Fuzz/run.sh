#!/bin/sh
# Builds one libFuzzer target of swift-ebpf and runs it on the target's seed corpus, which the
# target writes itself (`TARGET --write-seeds DIR`): the testdata objects, the BPF objects of
# Debian's libbpf-tools and xdp-tools when installed, and for the BTF targets the host's vmlinux
# BTF; fuzz-kconfig and fuzz-inflate seed from the host's kernel configuration and gzip files.
#   Fuzz/run.sh [--skip-build] TARGET [RUNS]    (RUNS defaults to 1000000 executions)
#   TARGET: fuzz-elffile fuzz-btf fuzz-btfext fuzz-collectionspec fuzz-kconfig fuzz-inflate fuzz-netlink
# FUZZ_CORPUS=DIR keeps the corpus (seeds plus what the run adds) in DIR instead of a temporary
# directory; crash inputs land in the current directory (libFuzzer's crash-<sha1>).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=1
if [ "${1:-}" = "--skip-build" ]; then build=0; shift; fi
target=${1:?usage: run.sh [--skip-build] TARGET [RUNS]}
runs=${2:-1000000}
export PATH="/opt/swift/usr/bin:$PATH"
# A trap must reach libFuzzer as a crash (and leave its input), not wait in the Swift backtracer.
export SWIFT_BACKTRACE=enable=no
# libFuzzer's -detect_leaks=0 (below) stops its per-input leak check only; AddressSanitizer's own
# check at exit would still report the targets' lazily built globals (fuzz-kconfig's parsed object)
# and write an empty crash-da39a3... file after a clean run.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
if [ "$build" = 1 ]; then
    # -enable-testing: fuzz-kconfig and fuzz-inflate reach internal parsers with @testable import.
    flock -o /tmp/swift-build.lock swift build -c release --package-path "$here" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -enable-testing
fi
if [ -n "${FUZZ_CORPUS:-}" ]; then
    corpus=$FUZZ_CORPUS
    mkdir -p "$corpus"
else
    corpus=$(mktemp -d)
    trap 'rm -rf "$corpus"' EXIT
fi
"$here/.build/release/$target" --write-seeds "$corpus"
# Object targets: 128 KiB, the largest real-world seed (a libbpf-tools object) is 112 KiB. The
# text and gzip targets get short inputs so that ten million runs stay affordable.
case "$target" in
    fuzz-kconfig) max_len=4096 ;;
    fuzz-inflate) max_len=32768 ;;
    *) max_len=131072 ;;
esac
# -detect_leaks=0: the Swift runtime's metadata caches and the targets' lazily built globals
# read as leaks at exit; descriptors, not heap, are what the library must not leak.
"$here/.build/release/$target" -runs="$runs" -max_len="$max_len" -detect_leaks=0 -print_final_stats=1 "$corpus"
