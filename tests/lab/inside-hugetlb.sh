#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Inside a 2-node lab (1 CPU per node): guests on hugetlb pages (issue 15, item 5). AutoNUMA
# never scans hugetlbfs and numad does not see it; vnumad must place such a guest like any other,
# moving whole 2 MiB pages.
# - "hp": a plain QEMU with 2 cells of 128 MiB on memory-backend-memfd,hugetlb=on, one busy vCPU
#   per cell, all of it on node 0 by first touch. The two busy vCPUs do not fit one CPU, so under
#   auto one cell has to go to node 1: each cell >= 95 % on one node, apart, vCPUs pinned there
#   (numa_maps counts hugetlb pages in their own size); node 1's free_hugepages fell by the
#   pages that arrived; then 10 periods with no move.
# - "ref": an idle plain QEMU, one 128 MiB cell on a hugetlbfs file (memory-backend-file on
#   /dev/hugepages), moved to node 1 by vnumad (strict) and back by migratepages, 5 rounds
#   (HUGETLB_ROUNDS): both timed alike by thp.py watch, medians and their ratio printed (a
#   report, not a verdict: a loaded 2-core machine stretches any time).
# Kernel balancing is left on (it never scans hugetlb mappings).
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
. "$here/checks.sh"
trap 'vl_stop_daemon || true; scn_stop_all || true' EXIT
S=$SCN_STATE
MIB=$((1 << 20))
HP=2048 # kB
rounds=${HUGETLB_ROUNDS:-5}

thp() {
        PYTHONDONTWRITEBYTECODE=1 python3 "$here/thp.py" "$@"
}

[ "$(cat /sys/devices/system/node/online)" = 0-1 ] || die "expected a lab with nodes 0-1, saw $(cat /sys/devices/system/node/online)"
hp_dir() { echo "/sys/devices/system/node/node$1/hugepages/hugepages-${HP}kB"; }
free_hp() { cat "$(hp_dir "$1")/free_hugepages"; }
# hp: 128 pages on node 0, then 64 of them on node 1; ref: 64 pages, on node 0 then node 1.
echo 200 >"$(hp_dir 0)/nr_hugepages" && echo 136 >"$(hp_dir 1)/nr_hugepages" ||
        die "cannot reserve 2 MiB pages"
echo "kernel $(uname -r); 2 MiB pages reserved: node 0 $(cat "$(hp_dir 0)/nr_hugepages"), node 1 $(cat "$(hp_dir 1)/nr_hugepages");" \
        "numa_balancing $(cat /proc/sys/kernel/numa_balancing)"
[ "$(cat "$(hp_dir 0)/nr_hugepages")" -ge 192 ] && [ "$(cat "$(hp_dir 1)/nr_hugepages")" -ge 128 ] ||
        die "the lab could not reserve enough 2 MiB pages (node 0 needs 192, node 1 128)"
# 1 GiB pages: a runtime reservation needs a free, aligned GiB on a node that has one GiB in all.
g1=/sys/devices/system/node/node0/hugepages/hugepages-1048576kB/nr_hugepages
if [ -w "$g1" ]; then
        echo 1 >"$g1" 2>/dev/null || true
        echo "1 GiB pages: asked for one on node 0, got $(cat "$g1") (node 0 has $(awk '/MemTotal/ { print $4 }' /sys/devices/system/node/node0/meminfo) kB)"
        echo 0 >"$g1" 2>/dev/null || true
else
        echo "1 GiB pages: this kernel or CPU offers none ($g1 missing)"
fi

first_touch_placement # on node 0
scn_qemu_start hp --backend memfd-hugetlb --cells 2 --cell-mib 128 --vcpus-per-cell 1 --host-node 0 --prealloc \
        --workload "vnw.size=48M vnw.pattern=stream vnw.interval=2000"
scn_qemu_start ref --backend hugetlbfs --cells 1 --cell-mib 128 --host-node 0 --prealloc
scn_wait_progress hp 2 420
map=$S/map.json
scn_measure hp ref -- --json >"$map" || die "vnumactl show --qmp hp ref failed"
truth_snapshot "$map" "$S/before.json" hp ref || die "cannot read numa_maps of hp and ref"
truth on-node "$S/before.json" 0 hp ref || die "precondition: expected all of hp's and ref's RAM on node 0"
grep -q "kernelpagesize_kB=$HP" "/proc/$(cat "$S/hp.pid")/numa_maps" || die "precondition: hp has no 2 MiB-page mapping"
free1_before=$(free_hp 1)

vl_start_daemon "[daemon]
period = 500ms
[policy]
mode = auto
migrate-rate = 256MiB
[vm ref]
mode = observe"
converged=0
wait_split "$map" hp 240 "$S/now.json" && converged=1
cp "$S/now.json" "$S/after.json"
truth show "$S/after.json"
check "hp (hugetlb) converged within 240 s: each cell >= 95 % on one node, apart, vCPUs pinned there (took $t_conv s)" \
        test $converged -eq 1
[ $converged -eq 1 ] || { vl_ctl explain hp | head -40 || true; }
read -r moved need <<<"$(truth moved "$S/before.json" "$S/after.json" hp)" || die "truth.py moved failed"
arrived=$((free1_before - $(free_hp 1)))
echo "hp: $((need / MIB)) MiB had to leave node 0; numa_maps saw $((moved / MIB)) MiB arrive; node 1's free 2 MiB pages fell by $arrived"
check "node 1's free_hugepages fell by the 2 MiB pages numa_maps saw arrive (expected $((moved / (HP * 1024))), saw $arrived)" \
        test "$arrived" -eq $((moved / (HP * 1024)))

p0=$(vl_period)
truth snapshot "$map" hp >"$S/still0.json"
deadline=$((SECONDS + 60))
while [ "$(vl_period)" -lt $((p0 + 10)) ] && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
truth snapshot "$map" hp >"$S/still1.json"
check "no flapping: numa_maps and pins of hp unchanged over 10 periods" truth same "$S/still0.json" "$S/still1.json" hp
check "no flapping: vnumad's explain lists no pin or migration (saw $(vl_moves_since hp "$p0"))" \
        test "$(vl_moves_since hp "$p0")" -eq 0

# ref: vnumad (strict nodes=1) against migratepages, on the same 128 MiB of hugetlbfs pages, in
# rounds (vnumad 0 -> 1, migratepages 1 -> 0), both timed alike by thp.py watch, which polls
# numa_maps in one process: from the first poll that saw pages arrive to the poll that saw 100 %.
vl_stop_daemon
ref_conf="[daemon]
period = 100ms
[policy]
mode = observe
migrate-rate = 1GiB
host-migrate-rate = 1GiB
[vm ref]
mode = strict
nodes = 1"
done_rounds=0
declare -a mp_wall=()
for ((r = 1; r <= rounds; r++)); do
        thp watch "$map" ref 1 --min 1.0 --timeout 120 --ready "$S/ready-vn-$r" >"$S/w-vn-$r.json" &
        wpid=$!
        scn_wait_for 60 test -e "$S/ready-vn-$r" || die "round $r: the numa_maps watch did not start"
        vl_start_daemon "$ref_conf"
        wait "$wpid" || die "round $r: vnumad did not put all of ref on node 1 within 120 s: $(cat "$S/w-vn-$r.json")"
        vl_stop_daemon
        thp watch "$map" ref 0 --min 1.0 --timeout 120 --ready "$S/ready-mp-$r" >"$S/w-mp-$r.json" &
        wpid=$!
        scn_wait_for 60 test -e "$S/ready-mp-$r" || die "round $r: the numa_maps watch did not start"
        t0=$EPOCHREALTIME
        migratepages "$(cat "$S/ref.pid")" 1 0 || die "round $r: migratepages failed"
        mp_wall+=("$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')")
        wait "$wpid" || die "round $r: migratepages did not put all of ref on node 0 within 120 s: $(cat "$S/w-mp-$r.json")"
        done_rounds=$r
        echo "round $r: vnumad $(cat "$S/w-vn-$r.json"); migratepages $(cat "$S/w-mp-$r.json")"
done
check "vnumad moved ref's hugetlbfs cell to node 1 and migratepages back, $rounds times (numa_maps: 100 %)" \
        test "$done_rounds" -eq "$rounds"
echo "migratepages command wall (s): ${mp_wall[*]} (a move that ends between two polls of the watch is timed at one poll's length)"
thp rates "hugetlbfs 128 MiB on $(uname -r)" "$(echo "$S"/w-vn-*.json)" "$(echo "$S"/w-mp-*.json)"
checks_end "kernel $(uname -r): the hugetlb guest converged in $t_conv s, whole 2 MiB pages moved, held still"
