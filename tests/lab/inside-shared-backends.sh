#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Inside a 2-node lab: shared backends are moved as vnumad(8) (SHARED BACKENDS) says.
#  - QEMU "shared": cell 0 a memory-backend-memfd,share=on that a second process
#    (shared-mapper.py, standing in for a vhost-user back end) maps too; cell 1 private RAM
#    (merge=off). All of it starts on node 0. The kernel itself refuses MPOL_MF_MOVE for a page
#    of the memfd (-EACCES: mapped twice). Under [vm shared] mode=strict nodes=1 vnumad must
#    move both cells to node 1, and the memfd pages must be on node 1 for the second process
#    too (its own numa_maps).
#  - QEMU "ksm" (when the kernel has KSM): one private RAM cell of zero pages, merged by KSM.
#    Under strict nodes=1 vnumad must leave the merged pages on node 0 (MPOL_MF_MOVE) while it
#    tries (its debug line counts them "left because shared").
# Verdicts: /proc/PID/numa_maps, smaps and sysfs (truth.py, numa_maps_node_bytes), never vnumad.
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
. "$here/checks.sh"
mapper=
trap 'vl_stop_daemon || true; [ -z "$mapper" ] || kill "$mapper" 2>/dev/null || true; scn_stop_all || true' EXIT
S=$SCN_STATE
MIB=64
SIZE=$((MIB << 20))
KSM=/sys/kernel/mm/ksm
echo "kernel: $(uname -r)"
numactl -H | head -3
# Base pages: k0's zero-filled RAM must stay present for KSM to merge it. With THP on, 6.12
# split the zero-filled huge pages and mapped the shared zero page instead (numa_maps then saw
# 0.3 of 64 MiB present; its "split underused THPs" work), so nothing was left to merge.
echo never >/sys/kernel/mm/transparent_hugepage/enabled || die "cannot turn THP off"

# A plain QEMU under numactl --membind=0 with the given -object/-numa options, stopped by
# scn_stop_all like scenario.sh's own.
qemu_start() { # name mib-total vcpus options...
        local name=$1 mib=$2 vcpus=$3
        shift 3
        mkdir -p "$S" "$SCN_QMP_DIR"
        numactl --membind=0 qemu-system-x86_64 -name "$name,debug-threads=on" -machine q35 \
                -accel tcg,thread=multi -cpu qemu64 -m "${mib}M" -smp "$vcpus" -display none -nodefaults \
                -no-reboot -serial "file:$S/$name.serial" -qmp "unix:$SCN_QMP_DIR/$name.sock,server=on,wait=off" \
                -pidfile "$S/$name.pid" -daemonize "$@" || die "QEMU $name did not start"
        echo "qemu $name" >>"$S/guests"
        scn_wait_for 60 test -S "$SCN_QMP_DIR/$name.sock" || die "$name has no QMP socket"
}

# Bytes per node of PID's mappings inside [START, END), from its numa_maps: "N0 N1".
node_bytes() { # pid start end
        python3 - "$@" <<'PY'
import os, sys
sys.path.insert(0, os.path.join(os.environ["VNUMA_SOURCE_ROOT"], "tests", "pylib"))
from vnumatest import numa_maps_node_bytes
b = numa_maps_node_bytes(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
print(b.get(0, 0), b.get(1, 0))
PY
}

# Whether PID has at least MIN of SIZE bytes of [START, END) on NODE (numa_maps).
has_on_node() { # pid start end node min
        local n0 n1 out
        out=$(node_bytes "$1" "$2" "$3") || return
        read -r n0 n1 <<<"$out"
        echo "  pid $1 [$2, $3): node0 $((n0 >> 20)) MiB, node1 $((n1 >> 20)) MiB"
        python3 -c 'import sys; n = [int(sys.argv[1]), int(sys.argv[2])][int(sys.argv[3])]
sys.exit(0 if n >= float(sys.argv[4]) * int(sys.argv[5]) else 1)' "$n0" "$n1" "$4" "$5" "$SIZE"
}

# smaps of PID's VMA at START: Shared_Clean + Shared_Dirty in bytes (pages others map too).
shared_bytes() { # pid start
        python3 - "$@" <<'PY'
import sys
pid, start = int(sys.argv[1]), int(sys.argv[2])
inside, kib = False, 0
with open("/proc/%d/smaps" % pid) as f:
    for line in f:
        head = line.split()[0]
        if "-" in head and not head.endswith(":"):
            lo, hi = (int(x, 16) for x in head.split("-"))
            inside = lo <= start < hi
        elif inside and line.startswith(("Shared_Clean:", "Shared_Dirty:")):
            kib += int(line.split()[1])
print(kib * 1024)
PY
}

# The [start end) of a backend, from the map vnumactl show --qmp printed: "START END SHARING".
region_of() { # map backend
        python3 -c '
import json, sys
for d in json.load(open(sys.argv[1]))["domains"]:
    for c in d["guest_nodes"]:
        for r in c["regions"]:
            if r["backend"] == sys.argv[2]:
                print(r["hva_start"], r["hva_end"], r["sharing"])' "$1" "$2"
}

qemu_start shared $((2 * MIB)) 2 \
        -object "memory-backend-memfd,id=m0,size=${MIB}M,share=on,prealloc=on" \
        -object "memory-backend-ram,id=m1,size=${MIB}M,prealloc=on,merge=off" \
        -numa node,nodeid=0,memdev=m0,cpus=0 -numa node,nodeid=1,memdev=m1,cpus=1
guests=(shared)
ksm=0
if [ -w $KSM/run ]; then
        ksm=1
        qemu_start ksm "$MIB" 1 -object "memory-backend-ram,id=k0,size=${MIB}M,prealloc=on,merge=on" \
                -numa node,nodeid=0,memdev=k0,cpus=0
        guests+=(ksm)
else
        echo "note: this kernel has no $KSM/run: the KSM case is not run"
fi
qpid=$(cat "$S/shared.pid")
# The address map, from QMP before vnumad holds the sockets.
map=$S/map.json
scn_measure "${guests[@]}" -- --json >"$map" || die "vnumactl show --qmp failed"
# (no /dev/fd in the lab for a process substitution)
read -r m0_start m0_end m0_sharing <<<"$(region_of "$map" m0)"
read -r m1_start m1_end m1_sharing <<<"$(region_of "$map" m1)"
echo "m0 [$m0_start, $m0_end) $m0_sharing; m1 [$m1_start, $m1_end) $m1_sharing (vnumactl show --qmp)"
if [ "$m0_sharing" != shared-memory ] || [ "$m1_sharing" != private ]; then
        die "vnumactl classifies m0 as $m0_sharing and m1 as $m1_sharing (want shared-memory, private)"
fi

python3 "$here/shared-mapper.py" map "$qpid" "$SIZE" "$S/mapper.addr" &
mapper=$!
scn_wait_for 60 test -s "$S/mapper.addr" || die "shared-mapper did not map the memfd"
read -r map_start map_end <"$S/mapper.addr"
echo "second process $mapper maps the memfd at [$map_start, $map_end)"

echo "--- before"
truth_snapshot "$map" "$S/before.json" shared || die "cannot read numa_maps of shared"
truth on-node "$S/before.json" 0 shared --min 0.99 || die "precondition: all RAM of shared on node 0"
has_on_node "$mapper" "$map_start" "$map_end" 0 0.99 || die "precondition: the second process sees the memfd on node 0"
sb=$(shared_bytes "$qpid" "$m0_start")
check "smaps: >= 99 % of QEMU's memfd cell is mapped by another process too ($((sb >> 20)) MiB)" \
        test "$sb" -ge $((SIZE * 99 / 100))
# The kernel's own answer for a shared page with MPOL_MF_MOVE (2): -EACCES (-13).
st=$(python3 "$here/shared-mapper.py" move-one "$qpid" "$((m0_start + 16 * 4096))" 1 2) || die "move_pages failed"
check "move_pages(MPOL_MF_MOVE) of a memfd page mapped twice answers -EACCES (got $st)" test "$st" = -13

vl_start_daemon "[daemon]
period = 500ms
[policy]
mode = observe
[vm shared]
mode = strict
nodes = 1"
vl_wait_managed 60 shared || die "vnumad does not manage shared"

t0=$SECONDS
until truth snapshot "$map" shared >"$S/after.json" && truth on-node "$S/after.json" 1 shared --min 0.99 >/dev/null &&
        has_on_node "$mapper" "$map_start" "$map_end" 1 0.99 >/dev/null; do
        [ $((SECONDS - t0)) -lt 120 ] || break
        sleep 1
done
echo "--- after $((SECONDS - t0)) s"
truth show "$S/after.json"
check "numa_maps of QEMU: both cells of shared (memfd and private RAM) moved to node 1" \
        truth on-node "$S/after.json" 1 shared --min 0.99
check "numa_maps of the second process: the shared memfd pages are on node 1 for it too" \
        has_on_node "$mapper" "$map_start" "$map_end" 1 0.99
grep -E "VM shared: .*migrate" "$VL_LOG" | tail -3 || true

if [ $ksm -eq 1 ]; then
        read -r k0_start _ k0_sharing <<<"$(region_of "$map" k0)"
        kpid=$(cat "$S/ksm.pid")
        need=$((SIZE * 9 / 10 / 4096))
        # Zero pages of k0 merge into KSM pages mapped many times over. KSM starts only now: with
        # it running from the start, it merged shared's m1 too (its zero pages, despite
        # merge=off, seen in the lab with Debian 12's QEMU: vnumad then left them, -EACCES).
        echo 20 >$KSM/sleep_millisecs
        echo 4096 >$KSM/pages_to_scan
        echo 1 >$KSM/run
        ksm_merged() { [ "$(cat $KSM/pages_sharing)" -ge "$need" ]; }
        scn_wait_for 180 ksm_merged || true
        echo "ksm: pages_shared $(cat $KSM/pages_shared) pages_sharing $(cat $KSM/pages_sharing) (need $need)"
        if check "KSM merged >= 90 % of k0's pages" ksm_merged; then
                truth_snapshot "$map" "$S/ksm-before.json" ksm || die "cannot read numa_maps of ksm"
                check "precondition: k0 ($k0_sharing) on node 0" truth on-node "$S/ksm-before.json" 0 ksm --min 0.99
                st=$(python3 "$here/shared-mapper.py" move-one "$kpid" "$((k0_start + 64 * 4096))" 1 2) || st=error
                echo "move_pages(MPOL_MF_MOVE) of a KSM page of k0: $st"
                vl_reconfigure "[daemon]
period = 500ms
[policy]
mode = observe
[vm shared]
mode = strict
nodes = 1
[vm ksm]
mode = strict
nodes = 1"
                vl_wait_managed 60 ksm || die "vnumad does not manage ksm"
                # vnumad's debug line says when it has tried (its word only tells when to look).
                scn_wait_for 60 grep -Eq "VM ksm: .*migrate.* [1-9][0-9]* left because shared" "$VL_LOG" || true
                grep -E "VM ksm: .*migrate" "$VL_LOG" | tail -3 || true
                sleep 3
                truth snapshot "$map" ksm >"$S/ksm-after.json" && truth show "$S/ksm-after.json"
                check "vnumad tried to move k0 (a migration line for ksm in its log)" grep -Eq "VM ksm: .*migrate" "$VL_LOG"
                check "numa_maps: the KSM-merged pages of k0 stayed on node 0 (>= 90 %)" \
                        truth on-node "$S/ksm-after.json" 0 ksm --min 0.9
                check "KSM still shares >= 90 % of k0's pages" ksm_merged
        fi
        echo 0 >$KSM/run
fi
[ $fails -eq 0 ] || tail -30 "$VL_LOG"
checks_end "shared memfd pages moved for both mappers, private RAM moved$([ $ksm -eq 1 ] && echo ", KSM pages left")"
