#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vnumad converges a misplaced 2-cell guest running the workload (see inside-vnumad-converge.sh).
. "$(dirname "$0")/lib.sh"

workload=$VNUMA_BUILD_ROOT/tests/lab/guest-workload
[ -x "$workload" ] || fail "no $workload (it is built by meson)"
[ -x "$VNUMA_BUILD_ROOT/src/vnumad" ] || fail "no vnumad in $VNUMA_BUILD_ROOT"
initrd=$("$LAB" guest-initrd --workload "$workload") || fail "lab guest-initrd failed"
out=$LAB_TEST_TMP/out
envs=(--env SCN_GUEST_INITRD="$initrd")
# Another vnumad (tests/lab/vnumad-never-acts.sh) runs only when asked for by name.
[ -z "${VNUMAD:-}" ] || envs+=(--env VNUMAD="$VNUMAD")
lab_run "$out" --nodes 2 --cpus-per-node 1 --mem-per-node 1G --timeout 900 "${envs[@]}" -- \
        bash "$(dirname "$(readlink -f "$0")")/inside-vnumad-converge.sh" || fail "the check inside the lab failed (status $?)"
grep -q '^PASS' "$out" || fail "no PASS line from inside the lab"
