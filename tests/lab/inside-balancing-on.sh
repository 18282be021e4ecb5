#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Inside a 2-node lab (1 CPU per node) with kernel NUMA balancing left ON, the distribution
# default (issue 15, item 2). A plain QEMU guest "bal" with 2 cells of 128 MiB, one busy vCPU per
# cell streaming 48 MiB of its cell: 80 MiB of each cell stay cold. Its RAM is on node 0 by first
# touch and its threads run on node 0's CPU (no memory binding, so the kernel may move pages).
#
# First the kernel's side, judged by move_pages against pagemap (hinting-probe.py): with the
# scanner running, cold pages sit behind NUMA-hinting PROT_NONE ptes. On 6.0-6.4 move_pages
# answers -ENOENT for them ("hidden"); from 6.5 it names their node. Then vnumad (auto): the two
# busy vCPUs do not fit one CPU, so one cell has to go to node 1, cold part included.
# - converged: every cell >= 95 % on one node, the cells apart, the vCPUs pinned there
#   (numa_maps, Cpus_allowed_list);
# - no fight: the pages vnumad moved (pgmigrate_success minus numa_pages_migrated in
#   /proc/vmstat) are at most the moving cell's size, so no page went twice; and in 10 periods
#   after convergence vnumad moves nothing and numa_maps holds still.
# The kernel's own moves (numa_pages_migrated) are reported beside vnumad's.
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
. "$here/checks.sh"
trap 'vl_stop_daemon || true; scn_stop_all || true' EXIT
S=$SCN_STATE
MIB=$((1 << 20))
CELL_MIB=128

[ "$(cat /sys/devices/system/node/online)" = 0-1 ] || die "expected a lab with nodes 0-1, saw $(cat /sys/devices/system/node/online)"
echo 1 >/proc/sys/kernel/numa_balancing || die "cannot turn kernel NUMA balancing on"
# Base pages only: the page counts below are of 4 KiB pages (lab-thp-keep covers THP).
echo never >/sys/kernel/mm/transparent_hugepage/enabled || die "cannot turn THP off"
kver=$(uname -r)
kmaj=${kver%%.*}
kmin=${kver#*.}
kmin=${kmin%%.*}
hides=0
[ "$kmaj" -eq 6 ] && [ "$kmin" -le 4 ] && hides=1
echo "kernel $kver, numa_balancing $(cat /proc/sys/kernel/numa_balancing), scan delay/min/max" \
        "$(cat /proc/sys/kernel/numa_balancing_scan_delay_ms 2>/dev/null || cat /sys/kernel/debug/sched/numa_balancing/scan_delay_ms 2>/dev/null || echo ?)" \
        "ms; move_pages hides hinting pages on this kernel: $([ $hides -eq 1 ] && echo yes || echo no)"

first_touch_placement # on node 0, and the kernel is free to move the pages later
scn_qemu_start bal --cells 2 --cell-mib $CELL_MIB --vcpus-per-cell 1 --host-node 0 --prealloc \
        --workload "vnw.size=48M vnw.pattern=stream vnw.interval=2000"
scn_wait_progress bal 2 420
map=$S/map.json
scn_measure bal -- --json >"$map" || die "vnumactl show --qmp bal failed"
truth_snapshot "$map" "$S/before.json" bal || die "cannot read numa_maps of bal"
truth on-node "$S/before.json" 0 bal || die "precondition: expected all of bal's RAM on node 0"

# The kernel's answers while its scanner runs: wait for the first hidden page on 6.0-6.4, give
# the scanner the same time elsewhere.
probe() { PYTHONDONTWRITEBYTECODE=1 python3 "$here/hinting-probe.py" "$map" bal; }
t0=$SECONDS
while :; do
        probe >"$S/probe.txt" || die "hinting-probe.py failed"
        hidden=$(tail -1 "$S/probe.txt" | python3 -c 'import json, sys; print(json.load(sys.stdin).get("hidden", 0))')
        [ "$hidden" -gt 0 ] && break
        [ $((SECONDS - t0)) -ge 60 ] && break
        sleep 5
done
echo "--- move_pages against pagemap after $((SECONDS - t0)) s of balancing (kernel $kver)"
head -n -1 "$S/probe.txt"
if [ $hides -eq 1 ]; then
        check "kernel $kver: move_pages answers -ENOENT for present pages behind hinting ptes (saw $hidden hidden pages)" \
                test "$hidden" -gt 0
else
        check "kernel $kver: move_pages names the node of every present page (saw $hidden hidden pages)" \
                test "$hidden" -eq 0
fi

vmstat() { awk -v k="$1" '$1 == k { print $2 }' /proc/vmstat; }
syscall_moves() { echo $(($(vmstat pgmigrate_success) - $(vmstat numa_pages_migrated))); }
kernel0=$(vmstat numa_pages_migrated)
vnumad0=$(syscall_moves)

vl_start_daemon "[daemon]
period = 500ms
[policy]
mode = auto
migrate-rate = 256MiB"
converged=0
wait_split "$map" bal 240 "$S/now.json" && converged=1
cp "$S/now.json" "$S/after.json"
echo "--- after vnumad ($t_conv s)"
truth show "$S/after.json"
check "bal converged within 240 s with balancing on: each cell >= 95 % on one node, apart, vCPUs pinned there (took $t_conv s)" \
        test $converged -eq 1
[ $converged -eq 1 ] || { vl_ctl explain bal | head -40 || true; probe || true; }
kernel_pages=$(($(vmstat numa_pages_migrated) - kernel0))
vnumad_pages=$(($(syscall_moves) - vnumad0))
cell_pages=$((CELL_MIB * MIB / $(getconf PAGESIZE)))
read -r moved need <<<"$(truth moved "$S/before.json" "$S/after.json" bal)" || die "truth.py moved failed"
echo "bytes that had to leave node 0: $((need / MIB)) MiB; numa_maps saw $((moved / MIB)) MiB arrive;" \
        "moved by vnumad (move_pages) $((vnumad_pages * 4 / 1024)) MiB, by the kernel's balancing $((kernel_pages * 4 / 1024)) MiB"
check "no page moved twice by vnumad: the pages it moved <= one cell ($cell_pages pages; saw $vnumad_pages)" \
        test "$vnumad_pages" -le "$cell_pages"

# Stationary: 10 periods in which vnumad moves nothing and numa_maps holds still.
p0=$(vl_period)
truth snapshot "$map" bal >"$S/still0.json"
still0=$(syscall_moves)
kstill0=$(vmstat numa_pages_migrated)
deadline=$((SECONDS + 60))
while [ "$(vl_period)" -lt $((p0 + 10)) ] && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
truth snapshot "$map" bal >"$S/still1.json"
echo "stationary periods $p0 -> $(vl_period): vnumad moved $(($(syscall_moves) - still0)) pages, the kernel $(($(vmstat numa_pages_migrated) - kstill0))"
check "stationary: numa_maps within 1 MiB per cell and node, pins unchanged, over 10 periods" \
        truth same "$S/still0.json" "$S/still1.json" bal --tolerance $MIB
check "stationary: vnumad's explain lists no pin or migration (saw $(vl_moves_since bal "$p0"))" \
        test "$(vl_moves_since bal "$p0")" -eq 0
check "stationary: no page moved by a move_pages call (vmstat; saw $(($(syscall_moves) - still0)))" \
        test $(($(syscall_moves) - still0)) -le 64
check "kernel NUMA balancing still on" test "$(cat /proc/sys/kernel/numa_balancing)" = 1
echo "--- move_pages against pagemap at the end"
probe | head -n -1 || true
checks_end "kernel $kver, balancing on: converged in $t_conv s; vnumad moved $((vnumad_pages * 4 / 1024)) MiB, the kernel $((kernel_pages * 4 / 1024)) MiB; hidden pages before: $hidden"
