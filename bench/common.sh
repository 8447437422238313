# Shared by the benchmarks (sourced). Each measures as the unprivileged test user, with a HOME of
# its own, so that podman's configuration and storage are the benchmark's alone.

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
user=${SKIFF_TEST_USER:-skiff-test}
# The profile the packages ship (fat LTO): what users run.
skiff=$repo/target/dist/skiff

# Stops with a clear message unless skiff has been built for release.
require_skiff() {
    [ -x "$skiff" ] || { echo "$1: build skiff first (cargo build --profile dist)" >&2; exit 1; }
}

# In the user's shell: HOME and the runtime directory under $1, and podman set up for this host
# (cgroup v1 without systemd: runc and cgroupfs); then works from $1.
bench_home() {
    export HOME=$1/home XDG_RUNTIME_DIR=$1/run
    unset XDG_DATA_HOME XDG_CONFIG_HOME
    mkdir -p "$HOME/.config/containers" "$XDG_RUNTIME_DIR"
    chmod 700 "$XDG_RUNTIME_DIR"
    printf '[engine]\ncgroup_manager = "cgroupfs"\nruntime = "runc"\nevents_logger = "file"\n' \
        >"$HOME/.config/containers/containers.conf"
    cd "$1"
}

# In the user's shell: removes everything podman made, and its rootless pause process, which
# would otherwise outlive the benchmark's runtime directory.
podman_reset() {
    podman rm -af -t 0 >/dev/null 2>&1 || true
    podman system reset -f >/dev/null 2>&1 || true
    pkill -u "$(id -u)" -f "^catatonit -P" || true
}

# Times commands with hyperfine into the JSON file $1 (the other arguments are hyperfine's),
# printing nothing unless hyperfine fails, then its errors.
quiet_hyperfine() {
    local json=$1
    shift
    hyperfine -N --style none --export-json "$json" "$@" >/dev/null 2>"$json.err" \
        || { cat "$json.err" >&2; return 1; }
}

# Imports the busybox tarball of make_bench_work in $2 as bench-busybox, into skiff ($1) and
# podman.
import_busybox() {
    "$1" import -q "$2/busybox.tar" bench-busybox >/dev/null
    podman import -q "$2/busybox.tar" bench-busybox >/dev/null 2>&1
}

# Runs the shell function $1 with the other arguments as the test user (through runuser when
# this is root), where bench_home, podman_reset, quiet_hyperfine and import_busybox are defined
# too.
as_bench_user() {
    local function=$1
    shift
    if [ "$(id -u)" -eq 0 ]; then
        # The runtime directory on a tmpfs, as a login session's /run/user/UID is: both skiff's
        # and podman's per-container run files live there.
        local runtime_dir=$1/run status=0
        mkdir -p "$runtime_dir"
        mount -t tmpfs -o "mode=700,uid=$(id -u "$user"),gid=$(id -g "$user"),size=512m" \
            bench-runtime "$runtime_dir"
        runuser -u "$user" -- bash -c \
            "$(declare -f bench_home podman_reset quiet_hyperfine import_busybox "$function"); $function $(printf '%q ' "$@")" \
            || status=$?
        # skiff's user namespace holders, like podman's pause process, would outlive the runtime
        # directory they are recorded in.
        pkill -KILL -u "$user" -x skiff-userns || true
        umount -l "$runtime_dir"
        return "$status"
    else
        ("$function" "$@")
    fi
}

# Gives $work to the benchmark user and runs the script's `measure "$work" "$skiff" "$runs"` as
# that user.
measure_as_bench_user() {
    if [ "$(id -u)" -eq 0 ]; then
        chown -R "$user" "$work"
    fi
    as_bench_user measure "$work" "$skiff" "$runs"
}

# Makes the benchmark's scratch directory $work (named after $1, removed on exit) holding a busybox
# image tarball, busybox.tar, that the test user can read.
make_bench_work() {
    work=$(mktemp -d "/tmp/$1.XXXXXX")
    trap 'rm -rf "$work" 2>/dev/null || true' EXIT
    scripts/make-busybox-rootfs.sh "$work/rootfs" "$work/busybox.tar"
    chmod -R a+rX "$work"
}
