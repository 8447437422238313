#!/usr/bin/env bash
# Makes a minimal root filesystem in DIR from the host's static busybox (Debian: busybox-static),
# and, given TARBALL, packs it there with numeric owners, ready for `skiff import`.
# Usage: make-busybox-rootfs.sh DIR [TARBALL]
set -euo pipefail
dir=$1
tarball=${2:-}
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || { echo "make-busybox-rootfs: $busybox is missing: apt-get install busybox-static" >&2; exit 1; }
mkdir -p "$dir"/{bin,etc,tmp,root,home/tester}
cp "$busybox" "$dir/bin/busybox"
for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$dir/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\ntester:x:1000:1000:tester:/home/tester:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$dir/etc/passwd"
printf 'root:x:0:\ntester:x:1000:\nnogroup:x:65534:\n' > "$dir/etc/group"
chmod 1777 "$dir/tmp"
[ -z "$tarball" ] || tar --numeric-owner -C "$dir" -cf "$tarball" .
