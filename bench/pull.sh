#!/usr/bin/env bash
# Pull benchmark: a ~500 MB, 5-layer image from a docker-registry on loopback into an empty
# store, `skiff pull` against `podman pull`, in one run, as the unprivileged user. Prints the
# medians and their ratio and appends them to bench/latest.md. Called by bench/run.sh, which
# installs everything and builds skiff; it can also run alone after that.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$repo"
runs=${PULL_RUNS:-5}
require_skiff bench/pull.sh
command -v docker-registry >/dev/null || { echo "bench/pull.sh: docker-registry is missing (apt-get install docker-registry)" >&2; exit 1; }

work=$(mktemp -d /tmp/skiff-bench-pull.XXXXXX)
cleanup() {
    [ -n "${registry_pid:-}" ] && kill "$registry_pid" 2>/dev/null
    rm -rf "$work" 2>/dev/null || true
}
trap cleanup EXIT

# The image: 5 layers of 100 MiB each, half random and half text, so gzip has real work.
PYTHONPATH=bench python3 - "$work/big.tar" <<'PY'
import io, os, sys, tarfile
import docker_archive
layers = []
text = b"".join(b"line %d of a fairly ordinary text file\n" % i for i in range(200000))
for n in range(5):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for i, size in enumerate([50 << 20, 50 << 20]):
            data = os.urandom(size) if i == 0 else (text * (size // len(text) + 1))[:size]
            info = tarfile.TarInfo(f"data/layer{n}/file{i}")
            info.size = size
            tar.addfile(info, io.BytesIO(data))
    layers.append(buf.getvalue())
docker_archive.write(sys.argv[1], "localhost/bench-big:latest", layers)
PY

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/registry"
cat >"$work/registry.yml" <<EOF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/registry}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port}
EOF
docker-registry serve "$work/registry.yml" >/dev/null 2>&1 &
registry_pid=$!
for _ in $(seq 100); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/v2/')" 2>/dev/null && break
    sleep 0.1
done
chmod -R a+rX "$work"

measure() {
    set -euo pipefail
    local work=$1 skiff=$2 runs=$3 port=$4
    bench_home "$work"
    local image=127.0.0.1:$port/bench/big:latest
    "$skiff" load -q -i "$work/big.tar"
    "$skiff" push -q --tls-verify=false localhost/bench-big:latest "$image"
    "$skiff" rmi -af >/dev/null
    # Each run starts from an empty store; the registry's blobs stay in the page cache.
    quiet_hyperfine "$work/pull-skiff.json" --runs "$runs" \
        --prepare "$skiff rmi -af" -n skiff "$skiff pull -q --tls-verify=false $image"
    quiet_hyperfine "$work/pull-podman.json" --runs "$runs" \
        --prepare "podman rmi -af" -n podman "podman pull -q --tls-verify=false $image"
    "$skiff" rmi -af >/dev/null
    podman_reset
}

if [ "$(id -u)" -eq 0 ]; then
    # The registry's storage stays root's; the user gets its own directories beside it.
    mkdir -p "$work/home" "$work/run"
    chown -R "$user" "$work/home" "$work/run"
    chmod a+rwx "$work"
fi
as_bench_user measure "$work" "$skiff" "$runs" "$port"

python3 - "$work" "$repo/bench/latest.md" <<'PY'
import json, statistics, sys
results = {}
for tool in ["skiff", "podman"]:
    for r in json.load(open(f"{sys.argv[1]}/pull-{tool}.json"))["results"]:
        results[r["command"]] = statistics.median(r["times"])
skiff, podman = results["skiff"], results["podman"]
line = (f"| `pull` 500 MiB, 5 gzip layers, loopback registry, empty store | {skiff:.2f} s | {podman:.2f} s "
        f"| **{skiff/podman:.3f}** |\n")
with open(sys.argv[2], "a") as out:
    out.write(line)
print(line, end="")
PY
