#!/usr/bin/env bash
# Builds the DocC catalog of the EBPF module (Sources/EBPF/EBPF.docc) with the toolchain's tools
# and no package dependency, treating every warning (a broken symbol link among them) as an error.
#
#   Scripts/docs.sh [--skip-build] [OUTPUT_DIR]      (default output: .build/docs/EBPF.doccarchive)
#
# EBPF only re-exports the other modules, so its symbol graph is extracted with those modules
# allowed as re-exported: the catalog then links to ``Tracepoint`` as to any symbol of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

skip_build=0
if [[ "${1:-}" == "--skip-build" ]]; then
    skip_build=1
    shift
fi
output=${1:-.build/docs/EBPF.doccarchive}
modules=EBPFSys,EBPFELFFile,EBPFASM,EBPFBTF,EBPFCollection,EBPFELF,EBPFLink,EBPFReaders

if ((skip_build == 0)); then
    swift build --target EBPF >&2
fi
build=$(swift build --show-bin-path)
graphs=$(mktemp -d /tmp/swift-ebpf-symbolgraphs.XXXXXX)
trap 'rm -rf "$graphs"' EXIT

swift-symbolgraph-extract -module-name EBPF -I "$build/Modules" -Xcc -fmodule-map-file="$build/CEBPF.build/module.modulemap" -target "$(uname -m)-unknown-linux-gnu" \
    -minimum-access-level public -skip-synthesized-members \
    -experimental-allowed-reexported-modules="$modules" -output-dir "$graphs"

rm -rf "$output"
mkdir -p "$(dirname "$output")"
docc convert Sources/EBPF/EBPF.docc --additional-symbol-graph-dir "$graphs" --output-path "$output" \
    --fallback-display-name EBPF --fallback-bundle-identifier swift-ebpf.EBPF --warnings-as-errors
echo "docs: wrote $output" >&2
