#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The demo's part inside a 2-node lab (contrib/demo.sh boots it): two guests whose cells sit
# on the wrong host nodes, shown with vnumactl. There is no "after" view until vnumad exists.
set -euo pipefail
. "$LAB_DIR/scenario.sh"

workload=()
if [ -n "${SCN_GUEST_INITRD:-}" ]; then
        workload=(--workload "vnw.size=32M vnw.pattern=hot vnw.hot=25 vnw.interval=5000")
fi

echo "==> inside the lab: $(numactl -H | head -n1)"
scn_libvirt_start
# Guest A, libvirt: numatune restrictive on host node 0, widened live to 0-1, so both its
# cells sit on node 0. Guest B, plain QEMU: numactl --membind=1, both cells on node 1.
scn_domain_start guest-a --cells 2 --cell-mib 192 --prealloc "${workload[@]}"
scn_qemu_start guest-b --cells 2 --cell-mib 192 --prealloc --host-node 1 "${workload[@]}"

echo
echo "==> BEFORE: vnumactl show (the project's reader, from outside the guests)"
echo
scn_measure guest-a guest-b
echo
vnumad=${VNUMA_BUILD_ROOT:-}/src/vnumad
if [ -x "$vnumad" ]; then
        echo "==> $vnumad is built, but this demo does not drive it yet (issue 3): no \"after\" view."
else
        echo "==> Not there yet: vnumad, the daemon that would move each guest cell's vCPUs and"
        echo "    memory onto one host node, does not exist in this tree (separate issue)."
        echo "    So there is no \"after\" view and no locality timeline. Nothing was moved."
fi
scn_stop_all
