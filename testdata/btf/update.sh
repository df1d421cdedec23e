#!/bin/sh
# Regenerates the committed kernel BTF blobs used by the CO-RE tests:
#   vmlinux-6.18.btf  the BTF of the running kernel (/sys/kernel/btf/vmlinux on the 6.18 host)
#   vmlinux-6.1.btf   the BTF of Debian's packaged 6.1 kernel (linux-image-amd64), read from
#                     /sys/kernel/btf/vmlinux inside a VM booted with that kernel
#   nf_conntrack-6.1.btf  that kernel's nf_conntrack module BTF (split BTF on vmlinux-6.1.btf),
#                     read in the same VM after modprobe
# Needs: qemu-system-x86, linux-image-amd64, busybox-static, virtme-ng (vng).
# Usage: testdata/btf/update.sh [host|vm|all]   (default: all)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
what=${1:-all}

host() {
	release=$(uname -r)
	case "$release" in
	6.18.*) ;;
	*) echo "warning: host kernel is $release, not 6.18; writing its BTF anyway" >&2 ;;
	esac
	cp /sys/kernel/btf/vmlinux "$here/vmlinux-6.18.btf"
	chmod 644 "$here/vmlinux-6.18.btf"
	echo "wrote vmlinux-6.18.btf from $release"
}

vm() {
	# shellcheck disable=SC2086 # the glob must expand
	set -- /boot/vmlinuz-6.1.*-amd64
	kernel=$1
	[ -e "$kernel" ] || { echo "no /boot/vmlinuz-6.1.*-amd64: apt-get install linux-image-amd64" >&2; exit 1; }
	out=$(mktemp -d)
	trap 'rm -rf "$out"' EXIT
	# KVM hangs early on this machine kind; software emulation boots in 15 to 50 seconds.
	# The guest sees the filesystem read-only; only --rwdir comes back to the host.
	cd "$out"
	vng --disable-kvm --run "$kernel" --user root --rwdir="$out" \
		--exec "cp /sys/kernel/btf/vmlinux $out/vmlinux-6.1.btf; modprobe nf_conntrack; cp /sys/kernel/btf/nf_conntrack $out/nf_conntrack-6.1.btf"
	for blob in vmlinux-6.1.btf nf_conntrack-6.1.btf; do
		cp "$out/$blob" "$here/$blob"
		chmod 644 "$here/$blob"
	done
	echo "wrote vmlinux-6.1.btf and nf_conntrack-6.1.btf from $kernel"
}

case "$what" in
host) host ;;
vm) vm ;;
all) host; vm ;;
*) echo "usage: $0 [host|vm|all]" >&2; exit 2 ;;
esac
