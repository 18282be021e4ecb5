#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A COMMAND that fails inside the lab makes `lab run` exit with exactly that COMMAND's status:
# not 0, and not the lab's own 124 (timeout) or 125 (the lab broke), which a test that only
# looked for "non-zero" would have taken for the command's failure.
. "$(dirname "$0")/lib.sh"

out=$LAB_TEST_TMP/out
rc=0
lab_run "$out" --timeout 120 -- sh -c 'echo "failing on purpose"; exit 3' || rc=$?
[ $rc -eq 3 ] || fail "expected the command's exit status 3 from lab run, got $rc"
grep -qx 'failing on purpose' "$out" || fail "the command's output did not stream out"
echo "PASS: lab run exited with the command's status 3"
