#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs inside a 2-node lab: a libvirt domain (numatune restrictive on node 0, widened live)
# and a plain QEMU (numactl --membind=0), both with 2 cells whose RAM all sits on host node
# 0, measured from outside with vnumactl show and checked against numa_maps.
set -euo pipefail
. "$LAB_DIR/scenario.sh"
here=$(dirname "$(readlink -f "$0")")

scn_libvirt_start
scn_domain_start misplaced-libvirt --cells 2 --cell-mib 128 --prealloc
scn_qemu_start misplaced-qemu --cells 2 --cell-mib 128 --prealloc
scn_measure misplaced-libvirt misplaced-qemu
scn_measure misplaced-libvirt misplaced-qemu -- --json >/run/scenario/show.json
rc=0
python3 "$here/check-placement.py" 2 0 misplaced-libvirt misplaced-qemu </run/scenario/show.json || rc=$?
scn_stop_all
[ $rc -eq 0 ] || { echo "FAIL: the measured placement is not the one set up"; exit 1; }
echo "PASS: both misplaced guests measured on host node 0, as numa_maps says"
