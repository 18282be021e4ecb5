#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs every test vnumad has: installs missing Debian packages, builds, then runs the unit,
# QEMU, libvirt (a real libvirtd, which the tests start), lab and brain-slow (policy
# properties) suites, the unit, QEMU (vnumad end to end) and libvirt suites again under
# ASan+UBSan (a sanitizer report in a daemon log fails its test), and the unit suite
# under valgrind.
# Ends with a line "N passed, N failed". Usage: contrib/test.sh [--quick]  (--quick: unit only)
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. contrib/deps.sh

quick=0
[ "${1:-}" = "--quick" ] && quick=1

ensure_packages $VNUMA_BUILD_PACKAGES $VNUMA_RUNTIME_PACKAGES $VNUMA_CHECK_PACKAGES || exit 1

# No udev here to apply the distribution's rule for /dev/kvm: left root:root 0600, libvirt
# sees QEMU probe KVM but believes its qemu user cannot open it, and re-probes QEMU on every
# call (80-120 s per `virsh define`). Give it to group kvm, as the rule would.
if [ -c /dev/kvm ] && getent group kvm >/dev/null && [ "$(stat -c %G /dev/kvm)" != kvm ]; then
        chgrp kvm /dev/kvm && chmod g+rw /dev/kvm && echo "note: /dev/kvm given to group kvm (mode g+rw)"
fi

declare -a logs=()
status=0

run_meson_test() { # builddir setup-or-empty suites...
        local dir=$1 setup=$2
        shift 2
        local args=()
        for s in "$@"; do args+=(--suite "$s"); done
        [ -n "$setup" ] && args+=(--setup "$setup")
        echo "==> meson test -C $dir ${args[*]}"
        meson test -C "$dir" --print-errorlogs --num-processes 2 "${args[@]}" || status=1
        local log="$dir/meson-logs/testlog${setup:+-$setup}.json"
        [ -f "$log" ] && logs+=("$log")
}

build() { # builddir meson-args...
        local dir=$1
        shift
        if [ -d "$dir" ]; then
                meson setup --reconfigure "$dir" "$@" >/dev/null
        else
                meson setup "$dir" "$@" >/dev/null
        fi || { echo "meson setup $dir failed" >&2; exit 1; }
        ninja -C "$dir" >/dev/null || { ninja -C "$dir"; echo "build in $dir failed" >&2; exit 1; }
}

build build-test
if [ $quick -eq 1 ]; then
        run_meson_test build-test "" unit
else
        run_meson_test build-test "" unit qemu libvirt lab brain-slow
        build build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbenchmarks=false
        run_meson_test build-asan sanitize unit qemu libvirt
        run_meson_test build-test valgrind unit
fi

python3 contrib/test-summary.py tests/allowed-skips "${logs[@]}"
rc=$?
[ $rc -ne 0 ] && exit $rc
exit $status
