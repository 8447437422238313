#!/usr/bin/env bash
# Completion benchmark: what one TAB costs in `skiff exec <TAB>` with 50 containers in the store
# (one running, which is all exec offers), against Podman's own callback for the same TAB
# (`podman __complete exec ''`). skiff's is the request its bash script makes:
# `SKIFF_COMPLETE=bash skiff -- skiff exec ''`. Target: under 50 ms. Appends its row to
# bench/latest.md. Called by bench/run.sh after it has installed everything and built skiff.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$repo"
runs=${RUNS:-30}
require_skiff bench/completion.sh

make_bench_work skiff-bench-completion

measure() {
    set -euo pipefail
    local work=$1 skiff=$2 runs=$3
    bench_home "$work"
    import_busybox "$skiff" "$work"
    "$skiff" run -d --name bench-up bench-busybox sleep 3600 >/dev/null
    podman --runtime runc run -d --name bench-up bench-busybox sleep 3600 >/dev/null 2>&1
    for i in $(seq 49); do
        "$skiff" create --name "c$i" bench-busybox true >/dev/null
        podman create --name "c$i" bench-busybox true >/dev/null 2>&1
    done
    # What skiff's bash script sets for the callback: the word's index and the separator.
    export SKIFF_COMPLETE=bash _CLAP_COMPLETE_INDEX=2 _CLAP_IFS=$'\n'
    local offered
    offered=$("$skiff" -- skiff exec '')
    grep -qx bench-up <<<"$offered" && ! grep -qx c1 <<<"$offered" || {
        echo "bench/completion.sh: skiff offered the wrong names for exec: $offered" >&2
        return 1
    }
    quiet_hyperfine "$work/complete.json" --warmup 3 --runs "$runs" \
        -n skiff "$skiff -- skiff exec ''" \
        -n podman "podman __complete exec ''"
    unset SKIFF_COMPLETE _CLAP_COMPLETE_INDEX _CLAP_IFS
    "$skiff" rm -af >/dev/null
    podman_reset
}

measure_as_bench_user

python3 - "$work" "$repo/bench/latest.md" <<'PY'
import json, statistics, sys
work, out = sys.argv[1], sys.argv[2]
ms = {r["command"]: statistics.median(r["times"]) * 1000 for r in json.load(open(f"{work}/complete.json"))["results"]}
line = (f"| completion callback for `exec <TAB>` with 50 containers (skiff: `SKIFF_COMPLETE=bash skiff -- skiff exec ''`, "
        f"podman: `podman __complete exec ''`; target < 50 ms) | {ms['skiff']:.1f} ms | {ms['podman']:.1f} ms | **{ms['skiff']/ms['podman']:.3f}** |")
open(out, "a").write(line + "\n")
print(line)
PY
