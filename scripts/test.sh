#!/usr/bin/env bash
# Every test: formatting, lints, unit tests, and the integration tests (which run the built binary
# as an unprivileged user with a subordinate id range, and as root).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ]; then
    scripts/setup-host.sh
else
    scripts/setup-host.sh || true
fi
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo build
# The integration tests run the binary as another user, who must be able to reach it.
if [ "$(id -u)" -eq 0 ]; then
    dir=$PWD/target/debug
    while [ "$dir" != / ]; do chmod o+x "$dir"; dir=$(dirname "$dir"); done
fi
# Each pass's output and skips go to target/test-results (scripts/test-summary.sh counts them);
# every pass runs even when one fails, and the summary prints in any case.
results=$PWD/target/test-results
rm -rf "$results"
mkdir -p "$results"
threads="--test-threads=${SKIFF_TEST_THREADS:-4}"
status=0
pass() {
    local name=$1
    shift
    env SKIFF_TEST_SKIPS="$results/$name.skips" "$@" 2>&1 | tee "$results/$name.log" || status=1
}
pass default cargo test --no-fail-fast -- "$threads"
# The run, exec, build and volume tests again with skiff's own FUSE union forced on every command
# (tests/it/common passes STORAGE_DRIVER on to the binary, rootless and as root).
pass fuse-overlay env STORAGE_DRIVER=fuse-overlay cargo test --test it -- "$threads" \
    run:: lifecycle::exec build:: volumes::
# commit and diff once more under vfs, whose changes come from comparing the container's copy
# with its layers instead of from an upper directory.
pass vfs env STORAGE_DRIVER=vfs cargo test --test it -- "$threads" commit::
scripts/test-summary.sh "$results" || status=1
exit "$status"
