#!/bin/sh
# Makes the release tarball skiff-VERSION-linux-ARCH.tar.gz in OUTDIR from a built binary: the
# binary, man/, completions/, the AppArmor profile, install.sh and README.md, in one top
# directory. Prints the tarball's path. With --no-tar it leaves that directory in OUTDIR instead
# and prints its path (packaging/build-deb.sh installs from it).
#
#   packaging/make-tarball.sh target/dist/skiff dist/
set -eu

tar=yes
if [ "${1-}" = --no-tar ]; then tar=no; shift; fi
[ $# -eq 2 ] || { echo "usage: $0 [--no-tar] BINARY OUTDIR" >&2; exit 2; }
repo=$(cd "$(dirname "$0")/.." && pwd)
binary=$1
outdir=$2
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -1)
name=skiff-$version-linux-$(uname -m)

mkdir -p "$outdir"
if [ "$tar" = yes ]; then
    stage=$(mktemp -d)
    trap 'rm -rf "$stage"' EXIT
else
    stage=$outdir
fi
top=$stage/$name
mkdir -p "$top"
install -m 0755 "$binary" "$top/skiff"
cp -R "$repo/man" "$repo/completions" "$top/"
install -m 0644 "$repo/packaging/skiff.apparmor" "$repo/README.md" "$top/"
install -m 0755 "$repo/packaging/install.sh" "$top/install.sh"
if [ "$tar" = no ]; then
    echo "$top"
    exit 0
fi
tar -C "$stage" --owner=0 --group=0 --numeric-owner -czf "$outdir/$name.tar.gz" "$name"
echo "$outdir/$name.tar.gz"
