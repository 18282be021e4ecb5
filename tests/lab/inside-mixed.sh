#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Inside a 4-node lab (1 CPU per node): six plain QEMU guests of mixed policies and backings, all
# of their RAM first-touched on node 0, under one vnumad (issue 15's acceptance: "every cell
# converges"). What each must end as, by the kernel's word (numa_maps, Cpus_allowed_list, smaps):
#   work   auto, THP-backed RAM, 2 cells x 128 MiB, one busy vCPU per cell
#            (a nested guest running the workload): two busy vCPUs and 1-CPU nodes, so the model
#            wants the cells apart: each >= 95 % on one node, vCPUs pinned there, different nodes
#   wthp   strict nodes=1, THP-backed RAM (QEMU madvises it), 2 cells x 96 MiB, idle: >= 99 %
#            on node 1, and >= 90 % of its AnonHugePages kept
# (One nested guest only: two of them did not finish booting in 25 minutes in a 4-CPU lab on
# this 2-core machine.)
#   shp    strict nodes=3, memory-backend-file on hugetlbfs, 1 cell x 64 MiB, idle:
#            >= 99 % on node 3, vCPUs pinned to node 3's CPU
#   pref   preferred nodes=2, THP-backed, 2 cells x 64 MiB, idle: >= 95 % on node 2
#   inter  interleave nodes=1-2, 2 cells x 64 MiB, idle: every cell split evenly over 1 and 2
#   obs    observe, 1 cell x 64 MiB: numa_maps and affinity unchanged from start to end
#   g1g    strict nodes=2, one 1 GiB page (memory-backend-memfd,hugetlb=on,hugetlbsize=1G),
#            first touched on node 1: the page moves whole to node 2 (numa_maps, and each node's
#            free 1 GiB pages). Only where the lab can reserve a 1 GiB page on nodes 1 and 2 at
#            run time (a free, aligned GiB on 2 GiB nodes, asked before anything else); the
#            output says what it got either way.
# The kernel's NUMA balancing is off so every page that moves is vnumad's (lab-balancing-on
# covers balancing on); THP is "madvise", as most distributions ship it.
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
. "$here/checks.sh"
trap 'vl_stop_daemon || true; scn_stop_all || true' EXIT
S=$SCN_STATE
HP=2048 # kB
limit=${MIXED_CONVERGE_SECONDS:-300}

thp() {
        PYTHONDONTWRITEBYTECODE=1 python3 "$here/thp.py" "$@"
}

[ "$(cat /sys/devices/system/node/online)" = 0-3 ] || die "expected a lab with nodes 0-3, saw $(cat /sys/devices/system/node/online)"
for n in 0 1 2 3; do
        [ "$(truth node-cpus $n)" = 1 ] || die "expected one CPU on node $n"
done
[ -w /proc/sys/kernel/numa_balancing ] && echo 0 >/proc/sys/kernel/numa_balancing
echo madvise >/sys/kernel/mm/transparent_hugepage/enabled || die "cannot set THP to madvise"
hp_dir() { echo "/sys/devices/system/node/node$1/hugepages/hugepages-${HP}kB"; }
g1_dir() { echo "/sys/devices/system/node/node$1/hugepages/hugepages-1048576kB"; }
# 1 GiB pages first, while every node's memory is still whole.
have_1g=0
if [ -d "$(g1_dir 1)" ]; then
        echo 1 >"$(g1_dir 1)/nr_hugepages" 2>/dev/null || true
        echo 1 >"$(g1_dir 2)/nr_hugepages" 2>/dev/null || true
        got="$(cat "$(g1_dir 1)/nr_hugepages") $(cat "$(g1_dir 2)/nr_hugepages")"
        echo "1 GiB pages: asked one on node 1 and one on node 2, got $got"
        [ "$got" = "1 1" ] && have_1g=1
else
        echo "1 GiB pages: this kernel or CPU offers none ($(g1_dir 1) missing)"
fi
# shp: 32 pages on node 0, then on node 3. (The auto guest was on memfd hugetlb pages too; in two
# runs 4 and 5 of the 64 pages of its moving cell stayed on node 0, move_pages answering -EBUSY
# for each twice, and were not tried again within 250 s: an open finding. lab-hugetlb covers
# auto on hugetlb pages.)
want=(40 8 8 40)
for n in 0 1 2 3; do
        echo "${want[$n]}" >"$(hp_dir $n)/nr_hugepages" || die "cannot reserve 2 MiB pages on node $n"
        [ "$(cat "$(hp_dir $n)/nr_hugepages")" -ge "${want[$n]}" ] ||
                die "node $n reserved $(cat "$(hp_dir $n)/nr_hugepages") 2 MiB pages of ${want[$n]}"
done
echo "kernel $(uname -r); numa_balancing $(cat /proc/sys/kernel/numa_balancing); THP $(cat /sys/kernel/mm/transparent_hugepage/enabled);" \
        "2 MiB pages per node: $(for n in 0 1 2 3; do printf '%s ' "$(cat "$(hp_dir $n)/nr_hugepages")"; done)"

first_touch_placement # every guest's RAM on node 0
load="vnw.size=40M vnw.pattern=stream vnw.interval=2000"
scn_qemu_start wthp --cells 2 --cell-mib 96 --host-node 0 --prealloc
scn_qemu_start work --cells 2 --cell-mib 128 --vcpus-per-cell 1 --host-node 0 --prealloc \
        --workload "$load"
scn_qemu_start shp --backend hugetlbfs --cells 1 --cell-mib 64 --host-node 0 --prealloc
scn_qemu_start pref --cells 2 --cell-mib 64 --host-node 0 --prealloc
scn_qemu_start inter --cells 2 --cell-mib 64 --host-node 0 --prealloc
scn_qemu_start obs --cells 1 --cell-mib 64 --host-node 0 --prealloc
all=(wthp work shp pref inter obs)
if [ $have_1g -eq 1 ]; then
        scn_qemu_start g1g --backend memfd-hugetlb-1g --cells 1 --cell-mib 1024 --host-node 1 --prealloc
        all+=(g1g)
fi
scn_wait_progress work 2 1200

map=$S/map.json
scn_measure "${all[@]}" -- --json >"$map" || die "vnumactl show --qmp ${all[*]} failed"
truth_snapshot "$map" "$S/before.json" "${all[@]}" || die "cannot read numa_maps of the guests"
truth on-node "$S/before.json" 0 wthp work shp pref inter obs || die "precondition: expected all guest RAM on node 0"
if [ $have_1g -eq 1 ]; then
        truth on-node "$S/before.json" 1 g1g || die "precondition: expected g1g's 1 GiB page on node 1"
        grep -q "kernelpagesize_kB=1048576" "/proc/$(cat "$S/g1g.pid")/numa_maps" ||
                die "precondition: g1g has no 1 GiB-page mapping"
fi
grep -q "kernelpagesize_kB=$HP" "/proc/$(cat "$S/shp.pid")/numa_maps" || die "precondition: shp has no 2 MiB-page mapping"
huge_before=$(thp huge "$map" wthp) || die "cannot read smaps of wthp"
echo "wthp before: $huge_before"
python3 -c '
import json, sys
h = json.loads(sys.argv[1])
sys.exit(0 if all(c["anon_huge"] >= 0.5 * c["rss"] > 0 for c in h["cells"].values()) else 1)' "$huge_before" ||
        die "precondition: wthp's RAM is not at least half THP-backed"

vl_start_daemon "[daemon]
period = 500ms
[policy]
mode = auto
migrate-rate = 256MiB
[vm wthp]
mode = strict
nodes = 1
[vm shp]
mode = strict
nodes = 3
[vm pref]
mode = preferred
nodes = 2
[vm inter]
mode = interleave
nodes = 1-2
[vm obs]
mode = observe
[vm g1g]
mode = strict
nodes = 2"

converged() { # snapshot
        local s=$1
        truth local "$s" 0.95 work && truth distinct "$s" work && truth pinned "$s" work &&
                truth on-node "$s" 1 wthp --min 0.99 &&
                truth on-node "$s" 3 shp --min 0.99 && truth pinned "$s" shp --homes 3 &&
                truth on-node "$s" 2 pref --min 0.95 && truth interleave "$s" inter 1,2 &&
                { [ $have_1g -eq 0 ] || truth on-node "$s" 2 g1g --min 1.0; }
}
t0=$SECONDS
ok=0
while [ $((SECONDS - t0)) -lt "$limit" ]; do
        truth snapshot "$map" "${all[@]}" >"$S/now.json" || die "cannot read numa_maps of the guests"
        converged "$S/now.json" >/dev/null 2>&1 && { ok=1; break; }
        [ $(((SECONDS - t0) % 30)) -lt 2 ] && { echo "t=$((SECONDS - t0))s"; truth show "$S/now.json"; }
        kill -0 "$VL_PID" 2>/dev/null || die "vnumad exited"
        sleep 1
done
t_conv=$((SECONDS - t0))
cp "$S/now.json" "$S/after.json"
echo "--- after $t_conv s"
truth show "$S/after.json"
A=$S/after.json
check "every cell converged within $limit s (took $t_conv s)" test $ok -eq 1
check "auto (work, THP, busy vCPUs): every cell >= 95 % on one node" truth local "$A" 0.95 work
check "auto: work's busy cells on different nodes" truth distinct "$A" work
check "auto: work's vCPUs pinned to their cells' nodes" truth pinned "$A" work
check "strict (wthp, THP): >= 99 % on node 1" truth on-node "$A" 1 wthp --min 0.99
check "strict (shp, hugetlbfs): >= 99 % on node 3" truth on-node "$A" 3 shp --min 0.99
check "strict: shp's vCPUs pinned to node 3" truth pinned "$A" shp --homes 3
check "preferred (pref, THP): >= 95 % on node 2" truth on-node "$A" 2 pref --min 0.95
check "interleave (inter): every cell split evenly over nodes 1 and 2" truth interleave "$A" inter 1,2
check "observe (obs): numa_maps and affinity as at the start" truth same "$S/before.json" "$A" obs
if [ $have_1g -eq 1 ]; then
        check "strict (g1g): its 1 GiB page on node 2 (numa_maps: 100 %)" truth on-node "$A" 2 g1g --min 1.0
        free_1g="$(cat "$(g1_dir 1)/free_hugepages") $(cat "$(g1_dir 2)/free_hugepages")"
        check "the 1 GiB page moved whole: free 1 GiB pages on nodes 1 and 2 are now '1 0' (saw '$free_1g')" \
                test "$free_1g" = "1 0"
fi
huge_after=$(thp huge "$map" wthp) || die "cannot read smaps of wthp"
check "wthp kept >= 90 % of every cell's AnonHugePages across its move" thp kept "$huge_before" "$huge_after"
read -r moved need <<<"$(truth moved "$S/before.json" "$A" work)" || die "truth.py moved failed"
echo "work: $((need >> 20)) MiB had to leave node 0; numa_maps saw $((moved >> 20)) MiB arrive"
echo "--- vnumad's view, for the record"
vl_ctl show || true
if [ $fails -ne 0 ]; then
        echo "--- vnumad's log on work (pins left out), then its last lines"
        grep "VM work:" "$VL_LOG" | grep -v -e pin-vcpus -e pin-emulator | tail -40
        tail -15 "$VL_LOG"
        echo "--- vnumactl explain work; free 2 MiB pages per node: $(for n in 0 1 2 3; do printf '%s ' "$(cat "$(hp_dir $n)/free_hugepages")"; done)"
        vl_ctl explain work || true
fi
checks_end "kernel $(uname -r), 4 nodes: ${#all[@]} guests (auto THP with busy vCPUs, strict THP, strict hugetlbfs, preferred, interleave, observe$([ $have_1g -eq 1 ] && echo ', strict on a 1 GiB page')) converged in $t_conv s"
