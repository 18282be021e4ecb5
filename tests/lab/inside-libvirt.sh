#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs inside a 2-node lab: virtlogd and libvirtd start, and a 2-cell TCG domain reaches
# running with both cells visible to QEMU.
set -euo pipefail
. "$LAB_DIR/scenario.sh"

t0=$SECONDS
scn_libvirt_start
echo "libvirtd answered after $((SECONDS - t0)) s"
scn_domain_start lab-libvirt --cells 2 --cell-mib 128 --vcpus-per-cell 1
state=$(virsh domstate lab-libvirt)
echo "domain state: $state (after $((SECONDS - t0)) s)"
[ "$state" = running ] || { echo "FAIL: the domain is '$state', not running"; exit 1; }
numa=$(virsh qemu-monitor-command lab-libvirt --hmp 'info numa' | tr -d '\r')
echo "$numa"
grep -qx '2 nodes' <<<"$numa" || { echo "FAIL: QEMU does not see 2 guest nodes"; exit 1; }
grep -qx 'node 1 size: 128 MB' <<<"$numa" || { echo "FAIL: guest node 1 is not 128 MB"; exit 1; }
ls -d /sys/fs/cgroup/cpuset/machine/qemu-*-lab-libvirt.libvirt-qemu/vcpu1 ||
        { echo "FAIL: libvirt made no per-vCPU cpuset cgroup"; exit 1; }
mems=$(cat /sys/fs/cgroup/cpuset/machine/qemu-*-lab-libvirt.libvirt-qemu/emulator/cpuset.mems)
echo "emulator cpuset.mems after widening: $mems"
[ "$mems" = 0-1 ] || { echo "FAIL: the live numatune did not widen cpuset.mems to 0-1"; exit 1; }
scn_stop_all
echo "PASS: libvirtd runs in the lab and a 2-cell domain reached running"
