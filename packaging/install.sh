#!/bin/sh
# Installs skiff from an unpacked release tarball (the directory this script is in): the binary,
# the man pages and the bash, zsh and fish completions, under a prefix. Packages use it too,
# with --destdir (the Debian package through packaging/build-deb.sh, the RPM through its spec).
#
#   ./install.sh                      # into /usr/local (as root)
#   ./install.sh --prefix ~/.local    # for yourself alone
#   ./install.sh --prefix /usr --destdir "$stage" --zsh-dir share/zsh/vendor-completions --apparmor
#
# --apparmor also installs /etc/apparmor.d/skiff, the profile that lets PREFIX/bin/skiff create user
# namespaces where AppArmor restricts them (load it with `apparmor_parser -r
# /etc/apparmor.d/skiff`). Nothing else is changed: no service, no config.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
prefix=/usr/local
destdir=
zsh_dir=share/zsh/site-functions
apparmor=no

usage() {
    echo "usage: $0 [--prefix DIR] [--destdir DIR] [--zsh-dir DIR-UNDER-PREFIX] [--apparmor]" >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case $1 in
        --prefix) [ $# -ge 2 ] || usage; prefix=$2; shift 2 ;;
        --destdir) [ $# -ge 2 ] || usage; destdir=$2; shift 2 ;;
        --zsh-dir) [ $# -ge 2 ] || usage; zsh_dir=$2; shift 2 ;;
        --apparmor) apparmor=yes; shift ;;
        *) usage ;;
    esac
done
for need in skiff man/skiff.1 completions/skiff.bash completions/_skiff completions/skiff.fish; do
    [ -e "$here/$need" ] || { echo "install.sh: $here/$need is missing: run me from an unpacked release tarball" >&2; exit 1; }
done

root=$destdir$prefix
install -d "$root/bin" "$root/share/man/man1" "$root/share/bash-completion/completions" \
    "$root/$zsh_dir" "$root/share/fish/vendor_completions.d"
install -m 0755 "$here/skiff" "$root/bin/skiff"
for page in "$here"/man/*.1; do
    # Compressed without a name or time stamp, so a rebuild gives the same bytes (Debian policy).
    gzip -9n -c "$page" >"$root/share/man/man1/$(basename "$page").gz"
    chmod 0644 "$root/share/man/man1/$(basename "$page").gz"
done
install -m 0644 "$here/completions/skiff.bash" "$root/share/bash-completion/completions/skiff"
install -m 0644 "$here/completions/_skiff" "$root/$zsh_dir/_skiff"
install -m 0644 "$here/completions/skiff.fish" "$root/share/fish/vendor_completions.d/skiff.fish"
if [ "$apparmor" = yes ]; then
    install -d "$destdir/etc/apparmor.d"
    sed "s|/usr/bin/skiff|$prefix/bin/skiff|" "$here/skiff.apparmor" >"$destdir/etc/apparmor.d/skiff"
    chmod 0644 "$destdir/etc/apparmor.d/skiff"
fi
[ -n "$destdir" ] || echo "installed skiff in $prefix/bin (man pages and completions under $prefix/share)"
