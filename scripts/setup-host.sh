#!/usr/bin/env bash
# Prepares this machine for skiff's tests and demo.
# As root: installs the Debian packages skiff needs, creates the unprivileged test user with a
# subordinate id range, and makes /dev/net/tun and /dev/fuse usable by it (0666, as on an ordinary
# distribution). Idempotent and quick when everything is already there.
# As a normal user: changes nothing, and names each missing piece on one line.
set -euo pipefail

TEST_USER=${SKIFF_TEST_USER:-skiff-test}
PACKAGES=(uidmap passt slirp4netns busybox-static fuse3 time docker-registry apache2-utils util-linux netcat-openbsd curl iproute2 nftables podman runc netavark aardvark-dns man-db gcc libc6-dev procps tzdata)
missing_commands() {
    local -a missing=()
    command -v newuidmap >/dev/null || missing+=(uidmap)
    command -v pasta >/dev/null || missing+=(passt)
    command -v slirp4netns >/dev/null || missing+=(slirp4netns)
    [ -x /bin/busybox ] || missing+=(busybox-static)
    command -v fusermount3 >/dev/null || missing+=(fuse3)
    [ -x /usr/bin/time ] || missing+=(time)
    command -v docker-registry >/dev/null || missing+=(docker-registry)
    command -v htpasswd >/dev/null || missing+=(apache2-utils)
    command -v runuser >/dev/null || missing+=(util-linux)
    [ -x /bin/nc.openbsd ] || missing+=(netcat-openbsd)
    command -v curl >/dev/null || missing+=(curl)
    [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || missing+=(iproute2)
    [ -x /usr/sbin/nft ] || missing+=(nftables)
    # The --format tests compare skiff's output with Podman's.
    command -v podman >/dev/null || missing+=(podman)
    command -v runc >/dev/null || missing+=(runc)
    # Podman answers as skiff does (DNS on user networks) only with netavark, not with CNI,
    # which is all that --no-install-recommends brings.
    [ -x /usr/lib/podman/netavark ] || missing+=(netavark)
    [ -x /usr/lib/podman/aardvark-dns ] || missing+=(aardvark-dns)
    command -v man >/dev/null || missing+=(man-db)
    # The security tests compile static C probes.
    command -v cc >/dev/null || missing+=(gcc)
    [ -n "$(find /usr/lib -name libc.a -print -quit 2>/dev/null)" ] || missing+=(libc6-dev)
    # The kill -9 tests find skiff's processes with pkill; the benchmark waits with pgrep.
    command -v pkill >/dev/null || missing+=(procps)
    # --tz binds a zone file from /usr/share/zoneinfo.
    [ -f /usr/share/zoneinfo/Asia/Tokyo ] || missing+=(tzdata)
    printf '%s\n' "${missing[@]}"
}

if [ "$(id -u)" -ne 0 ]; then
    status=ok
    for pkg in $(missing_commands); do
        echo "setup-host: missing package $pkg (ask an administrator: apt-get install $pkg)"
        status=missing
    done
    me=$(id -un)
    grep -qE "^($me|$(id -u)):" /etc/subuid 2>/dev/null || { echo "setup-host: no /etc/subuid range for $me: rootless tests that need one will say so and skip"; status=missing; }
    grep -qE "^($me|$(id -u)):" /etc/subgid 2>/dev/null || { echo "setup-host: no /etc/subgid range for $me"; status=missing; }
    [ -r /dev/net/tun ] && [ -w /dev/net/tun ] || { echo "setup-host: /dev/net/tun is not usable by $me: pasta and slirp4netns will fail"; status=missing; }
    [ "$status" = ok ] && echo "setup-host: everything skiff's tests need is here"
    exit 0
fi

need=$(missing_commands)
if [ -n "$need" ]; then
    echo "setup-host: installing ${PACKAGES[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
    # The registry package starts a system service where an init system runs one; the tests start
    # their own on a free port.
    systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi

if ! id "$TEST_USER" >/dev/null 2>&1; then
    useradd --create-home --shell /bin/bash "$TEST_USER"
fi
for file in /etc/subuid /etc/subgid; do
    grep -q "^$TEST_USER:" "$file" 2>/dev/null || echo "$TEST_USER:200000:65536" >> "$file"
done

[ -e /dev/net/tun ] || { mkdir -p /dev/net; mknod /dev/net/tun c 10 200; }
[ -e /dev/fuse ] || mknod /dev/fuse c 10 229
chmod 0666 /dev/net/tun /dev/fuse
