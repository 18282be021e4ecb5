#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A process allocated on node 0 is moved to node 1 with migratepages; verified in numa_maps.
. "$(dirname "$0")/lib.sh"

out=$LAB_TEST_TMP/out
lab_run "$out" --nodes 2 --mem-per-node 1G --timeout 240 -- \
        bash "$(dirname "$(readlink -f "$0")")/inside-migratepages.sh" || fail "the check inside the lab failed (status $?)"
grep -q '^PASS' "$out" || fail "no PASS line from inside the lab"
