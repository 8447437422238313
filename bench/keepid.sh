#!/usr/bin/env bash
# keep-id benchmark: the start of `run --rm --userns=keep-id IMAGE true` on a ~200 MB image, the
# first time (skiff copies each layer once for the mapping; podman copies and chowns the image)
# and the second, skiff against podman in one run, as the unprivileged user. Each first run starts
# from a freshly loaded image. Appends its rows to bench/latest.md. Called by bench/run.sh.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$repo"
runs=${KEEPID_RUNS:-3}
require_skiff bench/keepid.sh

make_bench_work skiff-bench-keepid

# busybox and a 200 MiB layer of 800 files (half random, half text) in a docker-archive.
python3 - "$work/busybox.tar" "$work/keepid.tar" <<'PY'
import hashlib, io, json, os, sys, tarfile
busybox, out = sys.argv[1], sys.argv[2]
base = open(busybox, "rb").read()
buf = io.BytesIO()
text = b"".join(b"line %d of an ordinary source file\n" % i for i in range(8000))
with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
    for d in range(8):
        info = tarfile.TarInfo(f"srv/app/dir{d}")
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        for i in range(100):
            size = 256 << 10
            data = os.urandom(size) if i % 2 else (text * (size // len(text) + 1))[:size]
            info = tarfile.TarInfo(f"srv/app/dir{d}/file{i}")
            info.size, info.mode, info.uid = size, 0o644, 1000 if i % 3 == 0 else 0
            tar.addfile(info, io.BytesIO(data))
layers = [base, buf.getvalue()]
diff_ids = ["sha256:" + hashlib.sha256(l).hexdigest() for l in layers]
config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                     "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
with tarfile.open(out, "w") as archive:
    def add(name, data):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    names = []
    for blob, diff in zip(layers, diff_ids):
        names.append(diff[7:] + "/layer.tar")
        add(names[-1], blob)
    add("config.json", config)
    add("manifest.json", json.dumps([{"Config": "config.json", "RepoTags": ["localhost/bench-keepid:latest"], "Layers": names}]).encode())
PY
chmod a+r "$work/keepid.tar"

measure() {
    set -euo pipefail
    local work=$1 skiff=$2 runs=$3
    bench_home "$work"
    local image=localhost/bench-keepid:latest
    ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
    for i in $(seq "$runs"); do
        "$skiff" rmi -af >/dev/null 2>&1 || true
        "$skiff" load -q -i "$work/keepid.tar" >/dev/null
        local start=$(date +%s%N)
        "$skiff" run --rm --userns=keep-id "$image" true 2>/dev/null
        ms "$start" >>"$work/skiff-first"
        start=$(date +%s%N)
        "$skiff" run --rm --userns=keep-id "$image" true
        ms "$start" >>"$work/skiff-second"

        podman rmi -af >/dev/null 2>&1 || true
        podman load -q -i "$work/keepid.tar" >/dev/null 2>&1
        start=$(date +%s%N)
        podman --runtime runc run --rm --userns=keep-id "$image" true 2>/dev/null
        ms "$start" >>"$work/podman-first"
        start=$(date +%s%N)
        podman --runtime runc run --rm --userns=keep-id "$image" true 2>/dev/null
        ms "$start" >>"$work/podman-second"
    done
    "$skiff" rmi -af >/dev/null 2>&1 || true
    podman_reset
}

if [ "$(id -u)" -eq 0 ]; then
    chown -R "$user" "$work"
fi
as_bench_user measure "$work" "$skiff" "$runs"

python3 - "$work" "$repo/bench/latest.md" <<'PY'
import statistics, sys
work, out = sys.argv[1], sys.argv[2]
def med(name): return statistics.median(int(x) for x in open(f"{work}/{name}").read().split())
rows = []
for which, label in [("first", "first run (layers copied for the mapping)"), ("second", "second run")]:
    skiff, podman = med(f"skiff-{which}"), med(f"podman-{which}")
    rows.append(f"| `run --rm --userns=keep-id` 200 MiB image, {label} | {skiff} ms | {podman} ms | **{skiff/podman:.3f}** |\n")
with open(out, "a") as f:
    f.writelines(rows)
print("".join(rows), end="")
PY
