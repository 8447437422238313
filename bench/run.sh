#!/usr/bin/env bash
# Start-up benchmark: `skiff run --rm IMAGE true` against `podman --runtime runc run --rm IMAGE true`
# on the same busybox image, in one run, as an unprivileged user. Prints hyperfine medians, the
# ratio, and peak RSS, and writes the table to bench/latest.md; then bench/pull.sh adds the pull
# benchmark (skiff pull against podman pull of a 500 MiB, 5-layer image from a loopback registry).
#
# Run as root (the usual way here), it installs podman, runc, hyperfine and skiff's own host
# packages, builds skiff, then measures as the test user. Run as a normal user, everything must be
# installed already. RUNS (default 30) sets the number of timed runs per command. SKIFF_BASELINE, a
# path to another skiff binary (an earlier build), times its `run --rm true` (both networks) in
# turns with this build's in the same run (bench/alternate.py), so that a change's cost is
# measured side by side with what it changed; START_ONLY=1 measures the start-up rows alone.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$repo"
runs=${RUNS:-30}

missing() {
    local absent=()
    for tool in podman runc hyperfine /usr/bin/time python3; do
        command -v "$tool" >/dev/null || absent+=("$tool")
    done
    echo "${absent[@]}"
}

if [ "$(id -u)" -eq 0 ]; then
    scripts/setup-host.sh
    if [ -n "$(missing)" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman runc hyperfine time python3 >/dev/null
    fi
elif [ -n "$(missing)" ]; then
    echo "bench: missing: $(missing) (Debian: apt-get install podman runc hyperfine time)" >&2
    exit 1
fi

cargo build --profile dist --quiet
work=$(mktemp -d /tmp/skiff-bench.XXXXXX)
trap 'rm -rf "$work" 2>/dev/null || true' EXIT
scripts/make-busybox-rootfs.sh "$work/rootfs" "$work/busybox.tar"

measure() {
    set -euo pipefail
    local work=$1 skiff=$2 runs=$3 baseline=${4:-}
    bench_home "$work"

    import_busybox "$skiff" "$work"
    "$skiff" run --rm bench-busybox true
    sync

    # skiff first: podman leaves clean-up processes behind that would otherwise run during skiff's
    # turn; and --network none before pasta, whose exits leave the kernel network-namespace
    # clean-up work for a while.
    quiet_hyperfine "$work/times.json" --warmup 3 --runs "$runs" \
        -n skiff-none "$skiff run --rm --network none bench-busybox true" \
        -n skiff "$skiff run --rm bench-busybox true"

    # This build against the baseline, in turns (see bench/alternate.py), before podman too.
    if [ -n "$baseline" ]; then
        python3 "$work/alternate.py" "$work/turns.json" "$runs" \
            "skiff-none=$skiff run --rm --network none bench-busybox true" \
            "baseline-none=$baseline run --rm --network none bench-busybox true"
        python3 "$work/alternate.py" "$work/turns-network.json" "$runs" \
            "skiff=$skiff run --rm bench-busybox true" \
            "baseline=$baseline run --rm bench-busybox true"
    fi

    # Podman's first run sets up its storage; right before its own rows, not before skiff's:
    # conmon starts `podman container cleanup` after the container exits, in the background,
    # and its network namespace's teardown goes on in the kernel after that.
    podman --runtime runc run --rm bench-busybox true 2>/dev/null
    quiet_hyperfine "$work/times-podman.json" --warmup 3 --runs "$runs" \
        -n podman "podman --runtime runc run --rm bench-busybox true" \
        -n podman-none "podman --runtime runc run --rm --network none bench-busybox true"

    # Peak RSS (KiB) as /usr/bin/time reports it: the command and every child it waited for.
    for i in $(seq 10); do
        /usr/bin/time -a -o "$work/rss-skiff-none" -f %M "$skiff" run --rm --network none bench-busybox true
        /usr/bin/time -a -o "$work/rss-skiff" -f %M "$skiff" run --rm bench-busybox true
        /usr/bin/time -a -o "$work/rss-podman" -f %M podman --runtime runc run --rm bench-busybox true 2>/dev/null
    done
    # skiff's own process alone, on the default network: its VmHWM just before it exits.
    for i in $(seq 10); do
        "$skiff" run --rm bench-busybox sleep 0.3 &
        local pid=$!
        sleep 0.2
        awk '/VmHWM/ {print $2}' "/proc/$pid/status" >>"$work/rss-skiff-self" || true
        wait "$pid"
    done
    podman_reset
}

if [ "$(id -u)" -eq 0 ]; then
    dir=$repo/target/dist
    while [ "$dir" != / ]; do chmod o+x "$dir"; dir=$(dirname "$dir"); done
fi
baseline=
if [ -n "${SKIFF_BASELINE:-}" ]; then
    baseline=$work/skiff-baseline
    install -m 0755 "$SKIFF_BASELINE" "$baseline"
    install -m 0644 bench/alternate.py "$work/alternate.py"
fi
if [ "$(id -u)" -eq 0 ]; then
    chown -R "$user" "$work"
fi
as_bench_user measure "$work" "$skiff" "$runs" "$baseline"

python3 - "$work" "$repo/bench/latest.md" <<'PY'
import json, statistics, subprocess, sys, datetime, platform
work, out = sys.argv[1], sys.argv[2]
times = {r["command"]: r for name in ("times", "times-podman") for r in json.load(open(f"{work}/{name}.json"))["results"]}
def med_ms(name): return statistics.median(times[name]["times"]) * 1000
def rss(name): return statistics.median(int(x) for x in open(f"{work}/rss-{name}").read().split()) / 1024
def version(cmd):
    try: return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0]
    except Exception: return "?"
skiff, podman = med_ms("skiff"), med_ms("podman")
skiff_none, podman_none = med_ms("skiff-none"), med_ms("podman-none")
lines = [
    f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC by `make bench` on {platform.node()} "
    f"(Linux {platform.release()}); {version(['podman', '--version'])}, {version(['runc', '--version'])}; "
    f"hyperfine medians of {len(times['skiff']['times'])} runs each, as an unprivileged user.",
    "",
    "| measurement | skiff | podman --runtime runc | skiff / podman |",
    "| --- | --- | --- | --- |",
    f"| `run --rm busybox true` (default network: skiff pasta, podman slirp4netns) | {skiff:.1f} ms | {podman:.1f} ms | **{skiff/podman:.3f}** |",
    f"| `run --rm --network none busybox true` | {skiff_none:.1f} ms | {podman_none:.1f} ms | {skiff_none/podman_none:.3f} |",
    f"| peak RSS of skiff's own process, default network (VmHWM) | {rss('skiff-self'):.1f} MiB | | |",
    f"| peak RSS, `/usr/bin/time -f %M`, `--network none` | {rss('skiff-none'):.1f} MiB | | |",
    f"| peak RSS, `/usr/bin/time -f %M`, default network (skiff and the children it waits for: pasta, killed when the container ends, is not waited for; its own peak is about 30 MiB) | {rss('skiff'):.1f} MiB | {rss('podman'):.1f} MiB | |",
]
def turns(name):
    try: return {r["command"]: statistics.median(r["times"]) * 1000 for r in json.load(open(f"{work}/{name}"))["results"]}
    except FileNotFoundError: return {}
for file, label in [("turns-network.json", "`run --rm busybox true`"), ("turns.json", "`run --rm --network none busybox true`")]:
    medians = turns(file)
    if medians:
        this, base = [medians[k] for k in sorted(medians, key=lambda k: k.startswith("baseline"))]
        lines.append(f"| {label}, this build and the SKIFF_BASELINE binary in turns (bench/alternate.py; each time includes Python starting the process): this build / baseline | {this:.1f} ms | baseline {base:.1f} ms | {this/base:.3f} |")
text = "\n".join(lines) + "\n"
open(out, "w").write(text)
print(text, end="")
PY

# START_ONLY=1 stops here: the start-up rows alone, for a change to the start path.
[ "${START_ONLY:-}" = 1 ] && exit 0
# Then the pull benchmark, which appends its row to bench/latest.md.
bench/pull.sh
# And the lifecycle benchmark: exec, ps with 50 containers, supervisor RSS.
bench/lifecycle.sh
# And the network benchmark: -p start latency, host-to-container and published-port throughput.
bench/network.sh
# And the keep-id benchmark: first and second --userns=keep-id start on a 200 MiB image.
bench/keepid.sh
# And the build benchmark: a 6-step Containerfile, cold and fully cached.
bench/build.sh
# And the completion benchmark: one TAB of `skiff exec` with 50 containers.
bench/completion.sh
# And the FUSE overlay benchmark: untar and read back 100 MB, built-in FUSE vs fuse-overlayfs.
bench/fuse.sh
