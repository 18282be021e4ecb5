#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vnumad converges a misplaced libvirt-managed 2-cell guest under the policy in its libvirt
# metadata, with the pins visible to libvirt (see inside-libvirt-converge.sh).
. "$(dirname "$0")/lib.sh"

workload=$VNUMA_BUILD_ROOT/tests/lab/guest-workload
[ -x "$workload" ] || fail "no $workload (it is built by meson)"
[ -x "$VNUMA_BUILD_ROOT/src/vnumad" ] || fail "no vnumad in $VNUMA_BUILD_ROOT"
command -v libvirtd >/dev/null || { echo "SKIP: libvirtd is not installed"; exit 77; }
command -v xmllint >/dev/null || { echo "SKIP: xmllint is not installed"; exit 77; }
initrd=$("$LAB" guest-initrd --workload "$workload") || fail "lab guest-initrd failed"
out=$LAB_TEST_TMP/out
lab_run "$out" --nodes 2 --cpus-per-node 1 --mem-per-node 1G --timeout 420 --env SCN_GUEST_INITRD="$initrd" -- \
        bash "$(dirname "$(readlink -f "$0")")/inside-libvirt-converge.sh" || fail "the check inside the lab failed (status $?)"
grep -q '^PASS' "$out" || fail "no PASS line from inside the lab"
