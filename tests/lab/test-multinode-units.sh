#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The sampler's and actuators' own Check tests, run again inside a 2-node lab: there the
# multi-node cases (residency on two nodes, hinting faults, soft-dirty, moves between nodes)
# really run instead of skipping as they do on a one-node machine. test-residency-protnone and test-actuator-migrate assert
# what this kernel's move_pages says of PROT_NONE and zero pages (each prints the kernel's
# answer). A skip of any kind inside the lab is a failure.
. "$(dirname "$0")/lib.sh"

b=$VNUMA_BUILD_ROOT/tests/unit
tests=(sampler/test-sampler-multinode sampler/test-sampler-live sampler/test-residency-protnone
        actuator/test-actuator-migrate actuator/test-actuator-pin)
for t in "${tests[@]}"; do
        [ -x "$b/$t" ] || fail "no $b/$t (built by meson)"
done
out=$LAB_TEST_TMP/out
lab_run "$out" --nodes 2 --cpus-per-node 1 --mem-per-node 1G --timeout 300 \
        --env VNUMA_TEST_DATA="$VNUMA_SOURCE_ROOT/tests/data" -- \
        bash -c 'for t in "$@"; do
                echo "== $t"
                rc=0
                CK_FORK=no "$0/$t" || rc=$?
                case $rc in
                0) ;;
                77) echo "FAIL: $t skipped (exit 77) inside a 2-node lab"; exit 1 ;;
                *) echo "FAIL: $t exit $rc"; exit 1 ;;
                esac
        done
        echo PASS' "$b" "${tests[@]}" || fail "a test failed inside the lab (status $?)"
grep -q '^PASS' "$out" || fail "no PASS line from inside the lab"
# Tests that skip part of their cases still exit 0: "SKIP: …", "… checks skipped".
if grep -qi 'skip' "$out"; then
        fail "expected no test to skip inside a 2-node lab, saw: $(grep -i 'skip' "$out" | head -5 | tr '\n' ' ')"
fi
exit 0
