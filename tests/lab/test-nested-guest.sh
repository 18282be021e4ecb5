#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A nested guest boots inside the lab and its workload reports progress for every guest node.
. "$(dirname "$0")/lib.sh"

workload=$VNUMA_BUILD_ROOT/tests/lab/guest-workload
[ -x "$workload" ] || fail "no $workload (it is built by meson)"
initrd=$("$LAB" guest-initrd --workload "$workload") || fail "lab guest-initrd failed"
out=$LAB_TEST_TMP/out
lab_run "$out" --nodes 2 --cpus-per-node 2 --mem-per-node 2G --timeout 540 --env SCN_GUEST_INITRD="$initrd" -- \
        bash "$(dirname "$(readlink -f "$0")")/inside-nested-guest.sh" || fail "the check inside the lab failed (status $?)"
grep -q '^PASS' "$out" || fail "no PASS line from inside the lab"
