#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Scenario helpers: a misplaced libvirt domain and a misplaced plain QEMU, measured from
# outside with vnumactl show (the project's own reader) and cross-checked with numa_maps.
. "$(dirname "$0")/lib.sh"

[ -x "$VNUMA_BUILD_ROOT/src/vnumactl" ] || fail "no $VNUMA_BUILD_ROOT/src/vnumactl"
out=$LAB_TEST_TMP/out
lab_run "$out" --nodes 2 --cpus-per-node 2 --mem-per-node 2G --timeout 500 -- \
        bash "$(dirname "$(readlink -f "$0")")/inside-scenario-misplaced.sh" || fail "the check inside the lab failed (status $?)"
grep -q '^PASS' "$out" || fail "no PASS line from inside the lab"
