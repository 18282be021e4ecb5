#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs inside a 2-node lab: a nested 2-cell guest (QEMU TCG) boots the lab kernel with the
# guest workload, which must report progress for both guest nodes.
set -euo pipefail
. "$LAB_DIR/scenario.sh"

t0=$SECONDS
scn_qemu_start nested --cells 2 --cell-mib 128 --vcpus-per-cell 1 \
        --workload "vnw.size=16M vnw.pattern=stream vnw.interval=2000"
rc=0
scn_wait_progress nested 2 "${NESTED_TIMEOUT:-420}" || rc=$?
echo "--- nested guest console after $((SECONDS - t0)) s:"
tr -d '\r' <"$SCN_STATE/nested.serial" | grep -E '^(vnw|guest-init):' | head -20
scn_stop_all
[ $rc -eq 0 ] || { echo "FAIL: the nested guest's workload did not report progress for both nodes"; exit 1; }
echo "PASS: the nested guest booted and its workload reports progress for every guest node"
