#!/usr/bin/env bash
# FUSE overlay benchmark: file-heavy work in a container, untar a ~100 MB tree of 4,000 files then
# read it all back, on skiff's built-in FUSE union (--storage-driver fuse-overlay), on Debian's
# fuse-overlayfs through podman (overlay with mount_program), and on skiff's kernel overlay, in one
# run, as the unprivileged user: hyperfine medians and ratios. Appends its rows to bench/latest.md.
# Called by bench/run.sh; FUSE_RUNS (default 5) sets the timed runs per command.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$repo"
runs=${FUSE_RUNS:-5}
require_skiff bench/fuse.sh

if ! command -v fuse-overlayfs >/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q fuse-overlayfs >/dev/null
    else
        echo "bench/fuse.sh: fuse-overlayfs is missing (Debian: apt-get install fuse-overlayfs)" >&2
        exit 1
    fi
fi

make_bench_work skiff-bench-fuse

# 40 directories of 100 files of 25 KiB, half random and half text: ~100 MB.
mkdir -p "$work/data"
python3 - "$work/data/tree.tar" <<'PY'
import io, os, sys, tarfile
text = b"".join(b"line %d of an ordinary source file\n" % i for i in range(1000))
with tarfile.open(sys.argv[1], "w", format=tarfile.GNU_FORMAT) as tar:
    for d in range(40):
        info = tarfile.TarInfo(f"tree/dir{d}")
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        for i in range(100):
            size = 25 << 10
            data = os.urandom(size) if i % 2 else (text * (size // len(text) + 1))[:size]
            info = tarfile.TarInfo(f"tree/dir{d}/file{i}")
            info.size, info.mode = size, 0o644
            tar.addfile(info, io.BytesIO(data))
PY
chmod -R a+rX "$work/data"

measure() {
    set -euo pipefail
    local work=$1 skiff=$2 runs=$3
    bench_home "$work"
    # Podman's overlay driver through fuse-overlayfs, as on hosts without native rootless overlay.
    printf '[storage]\ndriver = "overlay"\n[storage.options.overlay]\nmount_program = "/usr/bin/fuse-overlayfs"\n' \
        >"$HOME/.config/containers/storage.conf"
    import_busybox "$skiff" "$work"
    local job="mkdir /t && tar xf /w/tree.tar -C /t && tar cf - /t | cat >/dev/null"
    local args="run --rm --network none -v $work/data:/w:ro bench-busybox sh -c '$job'"
    # Once each first: image set-up and the kernel overlay probe are not what is measured.
    eval "$skiff --storage-driver fuse-overlay $args"
    eval "podman --runtime runc $args"
    # Check that podman did use fuse-overlayfs, and name its version.
    podman info 2>/dev/null | grep -q fuse-overlayfs \
        && fuse-overlayfs --version 2>/dev/null | grep -m1 '^fuse-overlayfs' >"$work/podman-driver" || true
    quiet_hyperfine "$work/times.json" --warmup 1 --runs "$runs" \
        -n skiff-fuse "$skiff --storage-driver fuse-overlay $args" \
        -n podman-fuse-overlayfs "podman --runtime runc $args" \
        -n skiff-kernel "$skiff --storage-driver overlay $args"
    podman_reset
}

measure_as_bench_user

python3 - "$work" "$repo/bench/latest.md" <<'PY'
import json, statistics, sys
work, out = sys.argv[1], sys.argv[2]
times = {r["command"]: statistics.median(r["times"]) * 1000
         for r in json.load(open(f"{work}/times.json"))["results"]}
fuse, podman, kernel = times["skiff-fuse"], times["podman-fuse-overlayfs"], times["skiff-kernel"]
driver = open(f"{work}/podman-driver").read().strip() or "fuse-overlayfs NOT in use?"
label = "untar a 100 MB tree of 4,000 files in a container, then read it back"
lines = [
    f"| {label}: skiff's FUSE overlay vs podman's overlay with {driver} | {fuse:.0f} ms | {podman:.0f} ms | **{fuse / podman:.3f}** |\n",
    f"| {label}: skiff's kernel overlay (FUSE overlay / kernel: {fuse / kernel:.2f}) | {kernel:.0f} ms | | |\n",
]
with open(out, "a") as f:
    f.writelines(lines)
print("".join(lines), end="")
PY
