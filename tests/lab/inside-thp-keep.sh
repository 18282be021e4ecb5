#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Inside a 2-node lab (1 CPU per node): a THP-backed plain QEMU guest "thp" (2 cells x 128 MiB,
# firmware only, RAM prealloc'd on host node 0) keeps its huge pages when vnumad moves its cells.
# THP is set to "madvise", so the guest's RAM is huge only because QEMU madvises it
# (MADV_HUGEPAGE on every RAM block), as on a host whose distribution defaults to madvise.
#
# Asserted, by the kernel's word (smaps AnonHugePages of the VMAs inside each cell's ranges,
# numa_maps for placement):
#   - before: every cell is at least half huge (else this tests nothing about THP);
#   - vnumad (strict nodes=1) puts >= 99 % of the guest's cell bytes on node 1;
#   - after: every cell's AnonHugePages is >= 90 % of what it was.
# Reported, not asserted (a loaded 2-core machine stretches any time): the /proc/vmstat
# thp_migration_* deltas (whether the kernel moved THPs whole or split them) and the migration
# throughput of vnumad against migratepages(8) on the same guest, medians of 3 rounds each, both
# timed the same way: from the first poll of numa_maps that saw the guest's RAM arrive on the
# target node to the poll that saw >= 99 % there.
#
# The kernel's NUMA balancing is off: every page moved here is vnumad's or migratepages'.
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
. "$here/checks.sh"
trap 'vl_stop_daemon || true; scn_stop_all || true' EXIT
S=$SCN_STATE
rounds=${THP_ROUNDS:-3}

thp() {
        PYTHONDONTWRITEBYTECODE=1 python3 "$here/thp.py" "$@"
}
jget() { # json key
        python3 -c 'import json, sys; v = json.loads(sys.argv[1]); print(v[sys.argv[2]])' "$1" "$2"
}

[ "$(cat /sys/devices/system/node/online)" = 0-1 ] || die "expected a lab with nodes 0-1, saw $(cat /sys/devices/system/node/online)"
[ -w /proc/sys/kernel/numa_balancing ] && echo 0 >/proc/sys/kernel/numa_balancing
echo madvise >/sys/kernel/mm/transparent_hugepage/enabled || die "cannot set THP to madvise"
echo "kernel $(uname -r), numa_balancing $(cat /proc/sys/kernel/numa_balancing)," \
        "THP enabled: $(cat /sys/kernel/mm/transparent_hugepage/enabled), defrag: $(cat /sys/kernel/mm/transparent_hugepage/defrag)"

scn_qemu_start thp --cells 2 --cell-mib 128 --host-node 0 --prealloc
map=$S/map.json
scn_measure thp -- --json >"$map" || die "vnumactl show --qmp thp failed"
pid=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["domains"][0]["pid"])' "$map")
truth_snapshot "$map" "$S/before.json" thp || die "cannot read numa_maps of thp"
truth on-node "$S/before.json" 0 thp --min 0.99 || die "precondition: expected all of thp's RAM on node 0"

huge_before=$(thp huge "$map" thp) || die "cannot read smaps of thp"
echo "before: $huge_before"
check "before: every cell is at least half THP-backed (smaps AnonHugePages >= 50 % of Rss)" python3 -c '
import json, sys
h = json.loads(sys.argv[1])
sys.exit(0 if all(c["anon_huge"] >= 0.5 * c["rss"] > 0 for c in h["cells"].values()) else 1)' "$huge_before"
[ $fails -eq 0 ] || die "the guest RAM is not THP-backed: nothing to test"

vnumad_conf="[daemon]
period = 500ms
[policy]
mode = observe
migrate-rate = 4GiB
host-migrate-rate = 4GiB
[vm thp]
mode = strict
nodes = 1"

vm0=$(thp vmstat)
declare -a mp_wall=()
for ((r = 1; r <= rounds; r++)); do
        echo "--- round $r: vnumad, node 0 -> node 1"
        # The watch starts first: its clock runs from before vnumad exists, and the time
        # reported is first-arrival to done, so vnumad's start and period latency are not in it.
        thp watch "$map" thp 1 --timeout 180 --ready "$S/ready-vn-$r" >"$S/watch-vnumad-$r.json" &
        wpid=$!
        scn_wait_for 60 test -e "$S/ready-vn-$r" || die "round $r: the numa_maps watch did not start"
        vl_start_daemon "$vnumad_conf"
        wait "$wpid" || die "vnumad did not put 99 % of thp's RAM on node 1 within 180 s: $(cat "$S/watch-vnumad-$r.json")"
        w=$(cat "$S/watch-vnumad-$r.json")
        echo "vnumad: $w"
        st=$(vl_vm_status thp) || die "vnumad does not manage thp"
        echo "vnumad bytes_migrated: $(jget "$st" bytes_migrated)"
        if [ "$r" = 1 ]; then
                vm1=$(thp vmstat)
                huge_after=$(thp huge "$map" thp) || die "cannot read smaps of thp"
                echo "after vnumad: $huge_after"
                echo "vmstat before: $vm0"
                echo "vmstat after:  $vm1"
                grep -E 'migrat|move' "$VL_LOG" | grep -v '^<7>.*sampl' | tail -8 || true
                truth snapshot "$map" thp >"$S/after.json" || die "cannot read numa_maps of thp"
                check "numa_maps: vnumad put >= 99 % of every cell of thp on node 1" \
                        truth on-node "$S/after.json" 1 thp --min 0.99
                check "smaps: every cell kept >= 90 % of its AnonHugePages across vnumad's move" \
                        thp kept "$huge_before" "$huge_after"
                python3 -c '
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print("vmstat deltas over vnumad'"'"'s move: " + ", ".join("%s +%d" % (k, b[k] - a.get(k, 0)) for k in sorted(b)))' "$vm0" "$vm1"
        fi
        vl_stop_daemon

        echo "--- round $r: migratepages $pid 1 0"
        thp watch "$map" thp 0 --timeout 180 --ready "$S/ready-mp-$r" >"$S/watch-mp-$r.json" &
        wpid=$!
        scn_wait_for 60 test -e "$S/ready-mp-$r" || die "round $r: the numa_maps watch did not start"
        t0=$EPOCHREALTIME
        migratepages "$pid" 1 0 || die "migratepages $pid 1 0 failed"
        t1=$EPOCHREALTIME
        wait "$wpid" || die "migratepages did not put 99 % of thp's RAM on node 0: $(cat "$S/watch-mp-$r.json")"
        w=$(cat "$S/watch-mp-$r.json")
        echo "migratepages: $w, command wall $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') s"
        mp_wall+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')")
        [ "$r" = 1 ] && echo "after migratepages: $(thp huge "$map" thp)"
done

thp rates "THP 256 MiB on $(uname -r)" "$(echo "$S"/watch-vnumad-*.json)" "$(echo "$S"/watch-mp-*.json)"
echo "migratepages command wall (s): ${mp_wall[*]}"
checks_end "THP-backed guest on $(uname -r): AnonHugePages kept >= 90 % across vnumad's move"
