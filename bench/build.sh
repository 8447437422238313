#!/usr/bin/env bash
# Build benchmark: a 6-step Containerfile on busybox (RUN, COPY of a 50 MiB directory, ENV,
# WORKDIR, RUN, CMD), cold (--no-cache: every step runs) and fully cached, `skiff build`
# against `podman build` in one run, as the unprivileged user: hyperfine medians. Appends its
# rows to bench/latest.md. Called by bench/run.sh.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$repo"
runs=${BUILD_RUNS:-5}
require_skiff bench/build.sh

make_bench_work skiff-bench-build

# The build context: 50 MiB in 200 files (half random, half text), and the Containerfile.
mkdir -p "$work/context/data"
python3 - "$work/context/data" <<'PY'
import os, sys
out = sys.argv[1]
text = b"".join(b"line %d of an ordinary source file\n" % i for i in range(8000))
for i in range(200):
    size = 256 << 10
    data = os.urandom(size) if i % 2 else (text * (size // len(text) + 1))[:size]
    open(os.path.join(out, f"file{i}"), "wb").write(data)
PY
cat >"$work/context/Containerfile" <<'CF'
FROM localhost/bench-busybox:latest
RUN mkdir -p /opt/tools && echo tool > /opt/tools/version
COPY data /srv/data
ENV APP_HOME=/srv/data
WORKDIR /srv/data
RUN ls | wc -l > /srv/count
CMD ["cat", "/srv/count"]
CF
chmod -R a+rX "$work"

measure() {
    set -euo pipefail
    local work=$1 skiff=$2 runs=$3
    bench_home "$work"
    import_busybox "$skiff" "$work"
    local tool
    for tool in skiff podman; do
        local cli=$skiff
        [ "$tool" = podman ] && cli="podman --runtime runc"
        local build="$cli build -q -t bench-built $work/context"
        # Cold: every step runs. Each timed run follows an untimed one, so both tools read the
        # context from a warm page cache.
        quiet_hyperfine "$work/$tool-cold.json" --runs "$runs" \
            --prepare "$cli build -q --no-cache -t warm $work/context" \
            -n "$tool" "$cli build -q --no-cache -t bench-built $work/context"
        $build >/dev/null 2>&1
        quiet_hyperfine "$work/$tool-cached.json" --warmup 1 --runs 10 -n "$tool" "$build"
    done
    "$skiff" rmi -af >/dev/null 2>&1 || true
    podman_reset
}

measure_as_bench_user

PYTHONPATH=bench python3 -c '
import sys, ratios
build = "`build` 6 steps on busybox with a 50 MiB COPY"
ratios.append(sys.argv[1], sys.argv[2], [
    ("cold", f"{build}, cold (--no-cache)"),
    ("cached", f"{build}, fully cached"),
])' "$work" "$repo/bench/latest.md"
