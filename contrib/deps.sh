# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by contrib/test.sh and contrib/demo.sh: install missing Debian packages.

# Build and unit-test needs.
VNUMA_BUILD_PACKAGES="gcc meson ninja-build pkg-config python3 libjson-c-dev libnuma-dev numactl check
 libinih-dev libsystemd-dev libvirt-dev libxml2-dev util-linux"
# Real parts the integration tests and the lab drive; the JSON Schema validator (Debian's, for
# /usr/bin/python3) and bash-completion the CLI tests use.
VNUMA_RUNTIME_PACKAGES="qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-clients libxml2-utils busybox-static
 cpio xz-utils kmod iproute2 python3-jsonschema bash-completion"
# Checkers.
VNUMA_CHECK_PACKAGES="valgrind clang libclang-rt-14-dev"

ensure_packages() {
        local missing=() p
        for p in "$@"; do
                dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
        done
        [ ${#missing[@]} -eq 0 ] && return 0
        if [ "$(id -u)" -ne 0 ]; then
                echo "missing Debian packages: ${missing[*]} (run as root to install them)" >&2
                return 1
        fi
        echo "==> installing Debian packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
