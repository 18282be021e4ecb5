#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# libvirtd starts inside the lab and a 2-cell TCG domain reaches running.
. "$(dirname "$0")/lib.sh"

out=$LAB_TEST_TMP/out
lab_run "$out" --nodes 2 --cpus-per-node 2 --mem-per-node 2G --timeout 400 -- \
        bash "$(dirname "$(readlink -f "$0")")/inside-libvirt.sh" || fail "the check inside the lab failed (status $?)"
grep -q '^PASS' "$out" || fail "no PASS line from inside the lab"
