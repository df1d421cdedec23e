#!/usr/bin/env bash
# The VM test tier: runs the tests that need a kernel other than the host's (kprobes, kretprobes,
# kprobe.multi and kprobe.session, fentry/fexit, tp_btf, LSM, iterators, arenas, module BTF, CO-RE
# and kernel symbols of another kernel) in one of Debian 12's kernels under QEMU, through
# virtme-ng, as TESTING.md describes.
#
#   Scripts/vm-test.sh [--kernel 6.1|6.12] [--skip-build] [FILTER]
#
# --kernel picks the kernel: 6.1 (the default; package linux-image-amd64) or 6.12 (package
# linux-image-6.12-amd64: CONFIG_FPROBE, netkit, arenas, no lockdown). Builds the tests on the host
# (the guest sees the host's file system read-only), boots the kernel, runs the built test binary
# there with EBPF_TEST_KERNEL=vm-<version> so the tests know which kernel's expectations apply,
# and exits with the tests' status: non-zero when any test fails or the VM does not report a
# result. FILTER is a Swift Testing --filter regular expression; the default selects the suites
# written for this tier (the same on both kernels: a suite for a feature a kernel lacks skips, or
# tests the not-supported error). Installs qemu, the kernel, busybox and virtme-ng when they are
# missing (needs root and network for that).
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
skip_build=0
version=6.1
while (($#)); do
    case "$1" in
    --skip-build) skip_build=1; shift ;;
    --kernel)
        [[ $# -ge 2 ]] || { echo "vm-test: --kernel needs a version (6.1 or 6.12)" >&2; exit 2; }
        version=$2; shift 2 ;;
    --kernel=*) version=${1#--kernel=}; shift ;;
    --) shift; break ;;
    -*) echo "vm-test: unknown option $1 (usage: vm-test.sh [--kernel 6.1|6.12] [--skip-build] [FILTER])" >&2; exit 2 ;;
    *) break ;;
    esac
done
case "$version" in
6.1) package=linux-image-amd64 ;;
6.12) package=linux-image-6.12-amd64 ;;
*) echo "vm-test: unknown kernel '$version' (known: 6.1, 6.12)" >&2; exit 2 ;;
esac
default_filter='LinkTests\.(USDTTests|KprobeTests|KprobeMultiNotSupportedTests|KprobeMultiTests|KprobeSessionTests|UprobeMultiTests|TracingTests|BTFHookTests|ModifyReturnTests|ProgramTracingTests|IteratorTests|TracingLinkDetailsTests|KprobeMultiLinkDetailsTests|KprobeLinkDetailsTests|FreplaceTests|TCXTests|TCXNotSupportedTests|NetkitNotSupportedTests|TCNetlinkTests|NetkitPairTests|StructOpsTests|NetfilterTests|SocketMapTests|LinkFeatureTests)'
default_filter+='|LoaderTests\..*(CORELoadTests|KernelSymbolTests|LibbpfToolsLoadTests|StructOpsLoadTests|ArenaLoadTests)'
# The kprobe and kprobe.multi fault sweeps (about 10 s on 6.1, 130 s on 6.12 under emulation).
default_filter+='|LinkTests\.ProbeFaultInjectionTests/kprobe'
default_filter+='|LinkTests\.TracingFaultInjectionTests|LinkTests\.NetworkFaultInjectionTests/netkit'
default_filter+='|CollectionTests\.(FeatureTests|ArenaMapTests)|BTFTests\.KernelBTFTests|BPF2SwiftTests\.(ExeccountTests|AutoAttachKprobeTests)|TestSupportTests\.TestKernelTests'
filter=${1:-$default_filter}
swift_bin=/opt/swift/usr/bin
export PATH="$swift_bin:$PATH"

log() { echo "vm-test: $*" >&2; }

# --- what the VM needs -----------------------------------------------------------------------
# The version inside the package names moves with Debian's updates (6.1.0-57, 6.12.118+deb12): glob.
kernel_image() { ls /boot/vmlinuz-"$version".*-amd64 2>/dev/null | sort -V | tail -n 1; }
missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
[[ -n "$(kernel_image)" ]] || missing+=("$package")
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
    log "no /boot/vmlinuz-$version.*-amd64 after installing $package (Debian 12's kernel)"
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
# Debian builds veth and the tc pieces the netlink tests use as modules; the guest loads them from
# the installed kernel package's /lib/modules (the host's, seen read-only).
for module in veth sch_ingress cls_bpf act_bpf; do
    modprobe \$module || echo "vm-test: modprobe \$module failed (is linux-image for \$(uname -r) installed?)"
done
# The lowest MemAvailable seen while the tests run, so a run near the guest's memory limit shows.
( while :; do sed -n 's/^MemAvailable: *//p' /proc/meminfo >> "$results/memory"; sleep 5; done ) &
sampler=\$!
EBPF_TEST_KERNEL=vm-$version "$binary" --testing-library swift-testing --filter '$filter'
echo \$? > "$results/status"
kill \$sampler
echo "vm-test: lowest MemAvailable in the guest: \$(sort -n "$results/memory" | head -n 1)"
GUEST
chmod +x "$guest_script"

# The guest kernel's console goes to a file (vng --verbose; without it the kernel is booted with
# loglevel=0 and a panic leaves no trace); the terminal shows everything but the kernel's lines.
console_log=$results/console.log
boot() {
    log "booting $kernel (software emulation; 15 to 50 s)"
    rm -f "$results/status" "$results/memory"
    set +e
    timeout 1200 vng --verbose --disable-kvm --run "$kernel" --user root --memory 2G --rwdir="$results" \
        --exec "$guest_script" 2>&1 | tee "$console_log" | grep --line-buffered -v -E '^\[ *[0-9]+\.[0-9]+\] '
    vng_status=${PIPESTATUS[0]}
    set -e
}
kernel_tail() {
    log "the guest kernel's last messages:"
    grep -E '^\[ *[0-9]+\.[0-9]+\] ' "$console_log" | tail -n 40 >&2 || true
}

boot
if [[ ! -s "$results/status" ]]; then
    # The guest died before the tests reported (vng exits 255 when the kernel panics or QEMU stops;
    # 124 is the timeout). Seen once in CI on 6.12.118 with nothing printed (the console was off
    # then): the kernel's messages are shown now, and the tier boots once more so that one crash of
    # the emulated machine does not hide the tests' result. A second death fails the tier.
    log "the VM reported no test result (vng exited with $vng_status)"
    kernel_tail
    log "booting again once"
    boot
    if [[ ! -s "$results/status" ]]; then
        log "the VM reported no test result again (vng exited with $vng_status)"
        kernel_tail
        exit 1
    fi
fi
status=$(cat "$results/status")
log "tests in the VM exited with $status"
grep -q -E '^\[ *[0-9]+\.[0-9]+\] .*(BUG:|WARNING:|Oops|Call Trace|Out of memory)' "$console_log" && {
    log "the guest kernel reported a problem during the run:"
    grep -E -A 12 '^\[ *[0-9]+\.[0-9]+\] .*(BUG:|WARNING:|Oops|Out of memory)' "$console_log" | head -n 60 >&2
}
exit "$status"
