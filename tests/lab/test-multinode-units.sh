#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The sampler's and actuators' own Check tests, run again inside a 2-node lab: there the
# multi-node cases (residency on two nodes, hinting faults, soft-dirty, moves between nodes)
# really run instead of skipping as they do on a one-node machine.
. "$(dirname "$0")/lib.sh"

b=$VNUMA_BUILD_ROOT/tests/unit
tests=(sampler/test-sampler-multinode sampler/test-sampler-live actuator/test-actuator-migrate actuator/test-actuator-pin)
for t in "${tests[@]}"; do
        [ -x "$b/$t" ] || fail "no $b/$t (built by meson)"
done
out=$LAB_TEST_TMP/out
lab_run "$out" --nodes 2 --cpus-per-node 1 --mem-per-node 1G --timeout 300 \
        --env VNUMA_TEST_DATA="$VNUMA_SOURCE_ROOT/tests/data" -- \
        bash -c 'set -e; for t in "$@"; do echo "== $t"; CK_FORK=no "$0/$t"; rc=$?; [ $rc -eq 0 ] || { echo "FAIL: $t exit $rc"; exit 1; }; done; echo PASS' \
        "$b" "${tests[@]}" || fail "a test failed inside the lab (status $?)"
grep -q '^PASS' "$out" || fail "no PASS line from inside the lab"
grep -q 'SKIP' "$out" && fail "a test skipped inside a 2-node lab"
exit 0
