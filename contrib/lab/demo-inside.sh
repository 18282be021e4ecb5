#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The demo's part inside a 2-node lab (contrib/demo.sh boots it): two guests whose vCPUs run
# on one host node while their memory sits on the other, shown with vnumactl; then vnumad
# runs, a locality timeline is printed until every cell is local, and the "after" view and
# vnumad's reasons follow.
set -euo pipefail
. "$LAB_DIR/scenario.sh"
. "$LAB_DIR/vnumad-scenario.sh"
trap 'vl_stop_daemon || true; scn_stop_all || true' EXIT

workload=()
if [ -n "${SCN_GUEST_INITRD:-}" ]; then
        workload=(--workload "vnw.size=32M vnw.pattern=hot vnw.hot=25 vnw.interval=5000")
fi

echo "==> inside the lab: $(numactl -H | head -n1)"
# vnumad places these guests, so the kernel's own NUMA balancing is turned off, as vnumad(8)
# recommends: otherwise it moves their pages too, and the cold pages it samples cannot move.
echo 0 >/proc/sys/kernel/numa_balancing
echo "==> kernel.numa_balancing=0 (vnumad is the balancer for these guests)"
scn_libvirt_start
# Guest A, libvirt: numatune restrictive on host node 0, widened live to 0-1, so both its
# cells sit on node 0. Guest B, plain QEMU: numactl --membind=1, both cells on node 1.
scn_domain_start guest-a --cells 2 --cell-mib 192 --prealloc "${workload[@]}"
# Its numatune would make vnumad only observe it (the operator's placement wins), so the
# operator hands it to vnumad with a policy in the domain's metadata: one host node per guest
# cell, so cell 1's memory must move to node 1 (192 MiB) and vCPU 1 with it.
echo "==> vnumactl policy set guest-a mode=auto cell=0:0 cell=1:1   (libvirt metadata <vnumad:policy>)"
"$VNUMACTL" policy set guest-a mode=auto cell=0:0 cell=1:1
scn_qemu_start guest-b --cells 2 --cell-mib 192 --prealloc --host-node 1 "${workload[@]}"
if [ ${#workload[@]} -gt 0 ]; then
        echo "==> waiting for both guests' workloads (nested guests boot in 1-3 minutes under TCG)"
        scn_wait_progress guest-a 2 420 && scn_wait_progress guest-b 2 420 || echo "==> (a workload is late; going on)"
fi

# And the vCPUs on the other node, as a stale hand-written vcpupin would leave them: every
# cell now runs on one node and finds its memory on the other.
vl_pin_vcpus guest-a "$(cat /sys/devices/system/node/node1/cpulist)"
vl_pin_vcpus guest-b "$(cat /sys/devices/system/node/node0/cpulist)"
sleep 3

echo
echo "==> BEFORE: vnumactl show (the project's reader, from outside the guests)"
echo
scn_measure guest-a guest-b
echo
echo "==> starting vnumad (period 500 ms): guest-a through libvirt (policy from its metadata),"
echo "    guest-b through its QMP socket (policy auto from vnumad.conf)"
vl_start_daemon "[daemon]
period = 500ms
[policy]
mode = auto"
vl_wait_managed 90 guest-a guest-b
vl_ctl status | sed -n '/^VM /,$p'
echo
echo "==> vnumactl top -d 2 (vnumad's view: locality, off-home MiB, MiB/s moved), until"
echo "    vnumactl wait --locality 0.95 --timeout 240 guest-a guest-b returns"
# top writes to a pipe (plain refreshes, no screen clearing), as the wait beside it is quiet.
"$VNUMACTL" --socket "$VL_SOCK" top -d 2 guest-a guest-b > >(cat) &
top_pid=$!
vl_ctl wait --locality 0.95 --timeout 240 guest-a guest-b >/dev/null || echo "==> not converged after 240 s"
kill "$top_pid" 2>/dev/null || true
wait "$top_pid" 2>/dev/null || true
echo
echo "==> AFTER: vnumactl show (from the daemon)"
echo
vl_ctl show
echo "==> vnumactl status"
vl_ctl status
echo
echo "==> virsh vcpupin guest-a (vnumad pinned through libvirt, so libvirt agrees)"
virsh vcpupin guest-a
echo
echo "==> vnumactl explain guest-a (what vnumad did, why, and its per-period locality timeline)"
vl_ctl explain guest-a
echo
echo "==> vnumad's log: notices, warnings and errors"
grep -E '^<[0-5]>' "$VL_LOG" || echo "(none)"
# The whole debug log, for a lab run with --keep.
[ -n "${LAB_RUN_DIR:-}" ] && cp "$VL_LOG" "$LAB_RUN_DIR/vnumad.log" 2>/dev/null || true
