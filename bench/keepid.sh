#!/usr/bin/env bash
# keep-id benchmark: the start of `run --rm --userns=keep-id IMAGE true` on a ~200 MB image, the
# first time (skiff serves the layers with their owners moved over FUSE, copying nothing; podman
# copies and chowns the image) and the second, skiff against podman in one run, as the unprivileged user: hyperfine medians,
# each first run from a freshly loaded image. Appends its rows to bench/latest.md. Called by bench/run.sh.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$repo"
runs=${KEEPID_RUNS:-3}
require_skiff bench/keepid.sh

make_bench_work skiff-bench-keepid

# busybox and a 200 MiB layer of 800 files (half random, half text) in a docker-archive.
PYTHONPATH=bench python3 - "$work/busybox.tar" "$work/keepid.tar" <<'PY'
import io, os, sys, tarfile
import docker_archive
busybox, out = sys.argv[1], sys.argv[2]
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
docker_archive.write(out, "localhost/bench-keepid:latest", [open(busybox, "rb").read(), buf.getvalue()])
PY
chmod a+r "$work/keepid.tar"

measure() {
    set -euo pipefail
    local work=$1 skiff=$2 runs=$3
    bench_home "$work"
    local image=localhost/bench-keepid:latest
    local tool
    for tool in skiff podman; do
        local cli=$skiff
        [ "$tool" = podman ] && cli="podman --runtime runc"
        local run="$cli run --rm --userns=keep-id $image true"
        # First run: from a freshly loaded image each time, so podman copies the layers again.
        quiet_hyperfine "$work/$tool-first.json" --runs "$runs" \
            --prepare "sh -c '$cli rmi -af >/dev/null 2>&1; $cli load -q -i $work/keepid.tar >/dev/null 2>&1'" \
            -n "$tool" "$run"
        quiet_hyperfine "$work/$tool-second.json" --warmup 1 --runs 10 -n "$tool" "$run"
    done
    "$skiff" rmi -af >/dev/null 2>&1 || true
    podman_reset
}

measure_as_bench_user

PYTHONPATH=bench python3 -c '
import sys, ratios
image = "`run --rm --userns=keep-id` 200 MiB image"
ratios.append(sys.argv[1], sys.argv[2], [
    ("first", f"{image}, first run (podman copies the image)"),
    ("second", f"{image}, second run"),
])' "$work" "$repo/bench/latest.md"
