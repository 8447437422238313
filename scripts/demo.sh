#!/usr/bin/env bash
# skiff's main job, offline: build skiff, make a tiny image from the host's busybox-static with
# `skiff import`, and run a container from it — as an unprivileged user, because that is what
# skiff is for. Run as root, it sets the host up first and runs the container as the test user.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ]; then
    scripts/setup-host.sh
fi
cargo build --release --quiet
skiff=$PWD/target/release/skiff

work=$(mktemp -d /tmp/skiff-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
scripts/make-busybox-rootfs.sh "$work/rootfs" "$work/rootfs.tar"
chmod -R a+rX "$work"

demo() {
    set -e
    export HOME=$1/home XDG_DATA_HOME=$1/home/.local/share XDG_RUNTIME_DIR=$1/run
    mkdir -p "$HOME" "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
    "$2" import --change 'CMD ["sh"]' "$1/rootfs.tar" demo-busybox
    "$2" images
    "$2" run --rm demo-busybox sh -c 'echo "hello from inside a skiff container"; echo "I am $(id -un) (pid $$) on $(hostname)"; echo "my uid map:"; cat /proc/self/uid_map'
}
if [ "$(id -u)" -eq 0 ]; then
    chown -R "${SKIFF_TEST_USER:-skiff-test}" "$work"
    runuser -u "${SKIFF_TEST_USER:-skiff-test}" -- bash -c "$(declare -f demo); demo '$work' '$skiff'"
else
    demo "$work" "$skiff"
fi
