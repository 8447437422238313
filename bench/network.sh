#!/usr/bin/env bash
# Network benchmark, skiff against Podman's default rootless network (slirp4netns, with its
# rootlesskit port handler) in one run:
# - the start latency `-p PORT:80` adds to `run -d` over `--network none` (hyperfine medians);
# - a 1 GiB HTTP download from a busybox httpd on the host's 127.0.0.1 into a container (skiff:
#   pasta's gateway address, which it maps to the host; podman: slirp4netns's 10.0.2.2, which
#   needs allow_host_loopback=true);
# - a 1 GiB download by the host's curl through a published port from httpd in a container.
# Appends its rows to bench/latest.md. Called by bench/run.sh once everything is installed.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$repo"
runs=${RUNS:-30}
require_skiff bench/network.sh

make_bench_work skiff-bench-net
trap 'pkill -f "httpd -f -p 127.0.0.1:" 2>/dev/null || true; rm -rf "$work" 2>/dev/null || true' EXIT

measure() {
    set -euo pipefail
    local work=$1 skiff=$2 runs=$3
    bench_home "$work"
    "$skiff" import -q "$work/busybox.tar" bench-busybox >/dev/null
    podman import -q "$work/busybox.tar" bench-busybox >/dev/null 2>&1
    # Start latency only: `run -d` returns once the command runs; the previous container (and its
    # network helper) is removed before each timed run.
    local port=18380 sleep_cmd="bench-busybox sleep 600"
    hyperfine -N --show-output --warmup 3 --runs "$runs" --export-json "$work/start.json" \
        --prepare "sh -c '$skiff rm -f bench-start >/dev/null 2>&1; true'" \
        -n skiff-none "$skiff run -d --name bench-start --network none $sleep_cmd" \
        --prepare "sh -c '$skiff rm -f bench-start >/dev/null 2>&1; true'" \
        -n skiff-port "$skiff run -d --name bench-start -p $port:80 $sleep_cmd" \
        --prepare "sh -c 'podman rm -f -t 0 bench-start >/dev/null 2>&1; true'" \
        -n podman-none "podman --runtime runc run -d --name bench-start --network none $sleep_cmd" \
        --prepare "sh -c 'podman rm -f -t 0 bench-start >/dev/null 2>&1; true'" \
        -n podman-port "podman --runtime runc run -d --name bench-start -p $((port + 10)):80 $sleep_cmd" \
        >"$work/hyperfine.out" 2>&1 || { tail -30 "$work/hyperfine.out" >&2; return 1; }
    "$skiff" rm -f bench-start >/dev/null
    podman rm -f -t 0 bench-start >/dev/null 2>&1

    # Host to container: 1 GiB from the host's loopback, timed inside the container.
    mkdir -p "$work/www"
    dd if=/dev/zero of="$work/www/big" bs=1M count=1024 status=none
    busybox httpd -f -p 127.0.0.1:18381 -h "$work/www" &
    local server=$!
    sleep 0.2
    local fetch='for i in 1 2 3; do time -f %e wget -q -O /dev/null http://$0:18381/big; done 2>&1'
    "$skiff" run --rm bench-busybox sh -c \
        "gateway=\$(ip route | awk '/default/ {print \$3}'); sh -c '$fetch' \$gateway" \
        >"$work/in-skiff"
    podman --runtime runc run --rm --network slirp4netns:allow_host_loopback=true bench-busybox \
        sh -c "$fetch" 10.0.2.2 >"$work/in-podman" 2>/dev/null
    kill "$server"

    # Container to host's curl, through a published port.
    local serve='dd if=/dev/zero of=/tmp/big bs=1048576 count=1024 2>/dev/null; exec httpd -f -p 80 -h /tmp'
    "$skiff" run -d --name bench-web -p 18382:80 bench-busybox sh -c "$serve" >/dev/null
    podman --runtime runc run -d --name bench-web -p 18383:80 bench-busybox sh -c "$serve" >/dev/null 2>&1
    for port in 18382 18383; do
        until curl -sf -o /dev/null -r 0-0 "http://127.0.0.1:$port/big"; do sleep 0.2; done
        for i in 1 2 3; do
            curl -s -o /dev/null -w '%{speed_download}\n' "http://127.0.0.1:$port/big"
        done >"$work/out-$port"
    done
    "$skiff" rm -f bench-web >/dev/null
    podman_reset
}

measure_as_bench_user

python3 - "$work" "$repo/bench/latest.md" <<'PY'
import json, statistics, sys
work, out = sys.argv[1], sys.argv[2]
times = {r["command"]: statistics.median(r["times"]) * 1000
         for r in json.load(open(f"{work}/start.json"))["results"]}
skiff_added = times["skiff-port"] - times["skiff-none"]
podman_added = times["podman-port"] - times["podman-none"]
def mib_s_from_seconds(name):
    seconds = [float(x) for x in open(f"{work}/{name}").read().split()]
    return 1024 / statistics.median(seconds)
def mib_s_from_curl(port):
    return statistics.median(float(x) for x in open(f"{work}/out-{port}").read().split()) / 2**20
into_skiff, into_podman = mib_s_from_seconds("in-skiff"), mib_s_from_seconds("in-podman")
out_skiff, out_podman = mib_s_from_curl(18382), mib_s_from_curl(18383)
rows = [
    f"| `run -d -p 18380:80 busybox sleep 600` (skiff pasta, podman slirp4netns + rootlessport) | {times['skiff-port']:.1f} ms | {times['podman-port']:.1f} ms | **{times['skiff-port']/times['podman-port']:.3f}** |",
    f"| start latency `-p` adds to `run -d` over `--network none` | {skiff_added:.1f} ms | {podman_added:.1f} ms | {skiff_added/podman_added:.3f} |",
    f"| 1 GiB HTTP, host 127.0.0.1 into a container (skiff pasta, podman slirp4netns) | {into_skiff:.0f} MiB/s | {into_podman:.0f} MiB/s | **{into_skiff/into_podman:.2f}** |",
    f"| 1 GiB HTTP, container to host through a published port (skiff pasta, podman rootlesskit) | {out_skiff:.0f} MiB/s | {out_podman:.0f} MiB/s | **{out_skiff/out_podman:.2f}** |",
]
text = "\n".join(rows) + "\n"
open(out, "a").write(text)
print(text, end="")
PY
