#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Boots a lab and runs one inside-*.sh scenario in it; passes when the scenario printed a line
# starting with PASS. meson's lab table (tests/lab/meson.build) gives each scenario its lab.
#
# Usage: run-inside.sh [--workload] INSIDE-SCRIPT [LAB-RUN-OPTIONS...]
#   --workload   build the nested guest's initramfs with tests/lab/guest-workload and hand it to
#                the scenario as SCN_GUEST_INITRD
# VNUMAD, when set, replaces the vnumad the scenario runs (e.g. tests/lab/vnumad-never-acts.sh,
# which shows that a scenario fails against a vnumad that never acts). SOAK_SECONDS and
# SOAK_CYCLE pass through to the soak (inside-soak.sh).
. "$(dirname "$0")/lib.sh"

here=$(dirname "$(readlink -f "$0")")
envs=()
if [ "${1:-}" = --workload ]; then
        shift
        workload=$VNUMA_BUILD_ROOT/tests/lab/guest-workload
        [ -x "$workload" ] || fail "no $workload (it is built by meson)"
        initrd=$("$LAB" guest-initrd --workload "$workload") || fail "lab guest-initrd failed"
        envs+=(--env SCN_GUEST_INITRD="$initrd")
fi
inside=${1:?usage: run-inside.sh [--workload] INSIDE-SCRIPT [LAB-RUN-OPTIONS...]}
shift
[ -r "$here/$inside" ] || fail "no scenario $here/$inside"
for p in vnumad vnumactl; do
        [ -x "$VNUMA_BUILD_ROOT/src/$p" ] || fail "no $p in $VNUMA_BUILD_ROOT/src (it is built by meson)"
done
[ -z "${VNUMAD:-}" ] || envs+=(--env VNUMAD="$VNUMAD")
for v in SOAK_SECONDS SOAK_CYCLE; do
        [ -z "${!v:-}" ] || envs+=(--env "$v=${!v}")
done

out=$LAB_TEST_TMP/out
lab_run "$out" "$@" "${envs[@]}" -- bash "$here/$inside" || fail "the check inside the lab failed (status $?)"
lab_check_kernel "$out"
grep -q '^PASS' "$out" || fail "no PASS line from inside the lab"
