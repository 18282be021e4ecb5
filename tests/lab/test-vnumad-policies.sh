#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# strict onto a CPU-less memory node, and interleave, enforced by vnumad (inside-vnumad-policies.sh).
. "$(dirname "$0")/lib.sh"

[ -x "$VNUMA_BUILD_ROOT/src/vnumad" ] || fail "no vnumad in $VNUMA_BUILD_ROOT"
out=$LAB_TEST_TMP/out
lab_run "$out" --nodes 2 --memory-node --cpus-per-node 1 --mem-per-node 1G --timeout 600 -- \
        bash "$(dirname "$(readlink -f "$0")")/inside-vnumad-policies.sh" || fail "the check inside the lab failed (status $?)"
grep -q '^PASS' "$out" || fail "no PASS line from inside the lab"
