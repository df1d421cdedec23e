#!/usr/bin/env bash
# The VM test tier: runs the tests that need a kernel other than the host's (kprobes, kretprobes,
# fentry/fexit, tp_btf, LSM, iterators, CO-RE and kernel symbols of another kernel) in Debian's 6.1 kernel under QEMU, through virtme-ng, as TESTING.md describes.
#
#   Scripts/vm-test.sh [--skip-build] [FILTER]
#
# Builds the tests on the host (the guest sees the host's file system read-only), boots the
# kernel, runs the built test binary there with EBPF_TEST_KERNEL=vm-6.1 so the tests know which
# kernel's expectations apply, and exits with the tests' status: non-zero when any test fails or
# the VM does not report a result. FILTER is a Swift Testing --filter regular expression; the
# default selects the suites written for this tier. Installs qemu, the kernel, busybox and
# virtme-ng when they are missing (needs root and network for that).
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
skip_build=0
if [[ "${1:-}" == "--skip-build" ]]; then
    skip_build=1
    shift
fi
filter=${1:-'LinkTests\.(USDTTests|KprobeTests|KprobeMultiNotSupportedTests|TracingTests|BTFHookTests|ModifyReturnTests|ProgramTracingTests|IteratorTests|FreplaceTests|TCXNotSupportedTests|NetkitNotSupportedTests)|LoaderTests\..*(CORELoadTests|KernelSymbolTests|LibbpfToolsLoadTests)|BPF2SwiftTests\.ExeccountTests'}
swift_bin=/opt/swift/usr/bin
export PATH="$swift_bin:$PATH"

log() { echo "vm-test: $*" >&2; }

# --- what the VM needs -----------------------------------------------------------------------
kernel_image() { ls /boot/vmlinuz-6.1.*-amd64 2>/dev/null | sort -V | tail -n 1; }
missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
[[ -n "$(kernel_image)" ]] || missing+=(linux-image-amd64)
command -v busybox >/dev/null || [[ -x /bin/busybox ]] || missing+=(busybox-static)
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >&2
fi
if ! command -v vng >/dev/null; then
    log "installing virtme-ng"
    pip install virtme-ng >&2
fi
kernel=$(kernel_image)
if [[ -z "$kernel" ]]; then
    log "no /boot/vmlinuz-6.1.*-amd64 after installing linux-image-amd64 (Debian 12's kernel)"
    exit 2
fi

# --- build on the host -------------------------------------------------------------------------
if ((skip_build == 0)); then
    log "building tests"
    flock -o /tmp/swift-build.lock swift build --build-tests >&2
fi
binary="$root/.build/debug/swift-ebpfPackageTests.xctest"
[[ -x "$binary" ]] || { log "no test binary at $binary"; exit 2; }

# --- run in the guest --------------------------------------------------------------------------
results=$(mktemp -d /tmp/swift-ebpf-vm.XXXXXX)
trap 'rm -rf "$results"' EXIT
guest_script="$results/guest.sh"
cat >"$guest_script" <<GUEST
#!/bin/sh
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
mount -t debugfs nodev /sys/kernel/debug 2>/dev/null
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
ulimit -l unlimited
echo "guest kernel: \$(uname -r)"
EBPF_TEST_KERNEL=vm-6.1 "$binary" --testing-library swift-testing --filter '$filter'
echo \$? > "$results/status"
GUEST
chmod +x "$guest_script"

log "booting $kernel (software emulation; 15 to 50 s)"
set +e
timeout 1200 vng --disable-kvm --run "$kernel" --user root --memory 2G --rwdir="$results" --exec "$guest_script"
vng_status=$?
set -e
if [[ ! -s "$results/status" ]]; then
    log "the VM reported no test result (vng exited with $vng_status)"
    exit 1
fi
status=$(cat "$results/status")
log "tests in the VM exited with $status"
exit "$status"
