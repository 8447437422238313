#!/usr/bin/env bash
# Lifecycle benchmark: `skiff exec CTR true` against `podman exec CTR true` on a running
# container, `ps -a` with 50 containers in each store, and the RSS of one detached container's
# supervisor (skiff's own against conmon). Appends its rows to bench/latest.md. Called by
# bench/run.sh after it has installed everything and built skiff.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$repo"
runs=${RUNS:-30}
require_skiff bench/lifecycle.sh

make_bench_work skiff-bench-life

measure() {
    set -euo pipefail
    local work=$1 skiff=$2 runs=$3
    bench_home "$work"
    import_busybox "$skiff" "$work"
    "$skiff" run -d --name bench-exec bench-busybox sleep 3600 >/dev/null
    podman --runtime runc run -d --name bench-exec bench-busybox sleep 3600 >/dev/null 2>&1
    quiet_hyperfine "$work/exec.json" --warmup 3 --runs "$runs" \
        -n skiff "$skiff exec bench-exec true" \
        -n podman "podman exec bench-exec true"
    local supervisor conmon
    supervisor=$(pgrep -u "$(id -u)" -f "container-supervise $("$skiff" inspect --format '{{.Id}}' bench-exec)")
    conmon=$(pgrep -u "$(id -u)" -x conmon | head -1)
    if [ -z "$supervisor" ] || [ -z "$conmon" ]; then
        echo "bench/lifecycle.sh: no supervisor ($supervisor) or conmon ($conmon) for bench-exec:" >&2
        podman ps -a >&2 2>&1 || true
        return 1
    fi
    awk '/VmRSS/ {print $2}' "/proc/$supervisor/status" >"$work/rss-supervisor"
    awk '/VmRSS/ {print $2}' "/proc/$conmon/status" >"$work/rss-conmon"
    for i in $(seq 49); do
        "$skiff" create --name "c$i" bench-busybox true >/dev/null
        podman create --name "c$i" bench-busybox true >/dev/null 2>&1
    done
    quiet_hyperfine "$work/ps.json" --warmup 3 --runs "$runs" \
        -n skiff "$skiff ps -a" \
        -n podman "podman ps -a"
    "$skiff" rm -af >/dev/null
    podman_reset
}

measure_as_bench_user

python3 - "$work" "$repo/bench/latest.md" <<'PY'
import json, statistics, sys
work, out = sys.argv[1], sys.argv[2]
def medians(name):
    return {r["command"]: statistics.median(r["times"]) * 1000 for r in json.load(open(f"{work}/{name}.json"))["results"]}
exec_ms, ps_ms = medians("exec"), medians("ps")
supervisor = int(open(f"{work}/rss-supervisor").read()) / 1024
conmon = int(open(f"{work}/rss-conmon").read()) / 1024
lines = [
    f"| `exec CTR true` on a running container | {exec_ms['skiff']:.1f} ms | {exec_ms['podman']:.1f} ms | **{exec_ms['skiff']/exec_ms['podman']:.3f}** |",
    f"| `ps -a` with 50 containers | {ps_ms['skiff']:.1f} ms | {ps_ms['podman']:.1f} ms | **{ps_ms['skiff']/ps_ms['podman']:.3f}** |",
    f"| RSS of a detached container's supervisor (skiff) / conmon (podman) | {supervisor:.1f} MiB | {conmon:.1f} MiB | |",
]
text = "\n".join(lines) + "\n"
open(out, "a").write(text)
print(text, end="")
PY
