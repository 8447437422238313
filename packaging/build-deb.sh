#!/bin/sh
# Builds the Debian package skiff_VERSION_ARCH.deb in OUTDIR from a built binary, with dpkg-deb
# from a staged tree (no debhelper or cargo-deb needed): /usr/bin/skiff, the man pages, the
# completions where bash-completion, zsh and fish look for them, and the AppArmor profile,
# loaded by postinst where AppArmor is active. Prints the package's path.
#
#   packaging/build-deb.sh target/dist/skiff dist/
#
# DEB_COMPRESSION=gzip builds faster (the tests use it); the default is xz.
set -eu

[ $# -eq 2 ] || { echo "usage: $0 BINARY OUTDIR" >&2; exit 2; }
repo=$(cd "$(dirname "$0")/.." && pwd)
binary=$1
outdir=$(mkdir -p "$2" && cd "$2" && pwd)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -1)
arch=$(dpkg --print-architecture)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unpacked=$("$repo/packaging/make-tarball.sh" --no-tar "$binary" "$work")
stage=$work/stage
"$unpacked/install.sh" --prefix /usr --destdir "$stage" \
    --zsh-dir share/zsh/vendor-completions --apparmor
# Debian ships binaries stripped (a release build already is; a debug build shrinks sixfold).
strip --strip-unneeded "$stage/usr/bin/skiff" 2>/dev/null || true

install -d "$stage/usr/share/doc/skiff"
cat >"$stage/usr/share/doc/skiff/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: skiff

Files: *
License: Apache-2.0
 On Debian systems the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
COPYRIGHT

# The lowest glibc the binary runs on: the newest GLIBC_ symbol version it uses.
glibc=$(objdump -T "$binary" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1 || true)
libc="libc6${glibc:+ (>= $glibc)}"
size=$(du -sk "$stage" | cut -f1)

install -d "$stage/DEBIAN"
cat >"$stage/DEBIAN/control" <<CONTROL
Package: skiff
Version: $version
Architecture: $arch
Maintainer: skiff maintainers <skiff@localhost>
Installed-Size: $size
Depends: $libc, libgcc-s1, uidmap
Recommends: passt | slirp4netns, fuse3
Suggests: iproute2, nftables
Section: admin
Priority: optional
Description: daemonless, rootless containers with the Docker and Podman command line
 skiff runs OCI containers without root and without a daemon: one binary, with the
 command line of Docker and Podman (alias docker=skiff). Rootless containers need
 subordinate ids (uidmap); networking uses pasta (passt) or slirp4netns.
CONTROL
echo /etc/apparmor.d/skiff >"$stage/DEBIAN/conffiles"
install -m 0755 "$repo/packaging/deb/postinst" "$repo/packaging/deb/prerm" "$stage/DEBIAN/"

dpkg-deb --root-owner-group "-Z${DEB_COMPRESSION:-xz}" --build "$stage" "$outdir/skiff_${version}_$arch.deb" >/dev/null
echo "$outdir/skiff_${version}_$arch.deb"
