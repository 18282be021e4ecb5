#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Inside a lab with 2 CPU nodes and a CPU-less memory node (node 2): two plain QEMU guests
# whose RAM starts all on node 0 (asserted with numa_maps). [vm strict2] mode=strict nodes=2
# must put all of its pages on the memory-only node; [vm inter] mode=interleave nodes=0-1 must
# split every cell's pages evenly (each node's share within 5 % of half, nothing on node 2).
# Both verdicts are numa_maps' per-VMA N<node>= counts inside each cell's RAM (truth.py).
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
. "$here/checks.sh"
trap 'vl_stop_daemon || true; scn_stop_all || true' EXIT
S=$SCN_STATE

numactl -H | head -3
scn_qemu_start strict2 --cells 2 --cell-mib 96 --host-node 0 --prealloc
scn_qemu_start inter --cells 2 --cell-mib 96 --host-node 0 --prealloc
# The address map, from QMP before vnumad holds the sockets.
map=$S/map.json
scn_measure strict2 inter -- --json >"$map" || die "vnumactl show --qmp strict2 inter failed"
echo "--- before"
truth_snapshot "$map" "$S/before.json" strict2 inter || die "cannot read numa_maps of strict2 and inter"
truth on-node "$S/before.json" 0 strict2 inter || die "precondition: expected all RAM of strict2 and inter on node 0"

vl_start_daemon "[daemon]
period = 500ms
[policy]
mode = observe
[vm strict2]
mode = strict
nodes = 2
[vm inter]
mode = interleave
nodes = 0-1"

# Polls the kernel until GUEST's placement passes truth.py ARGS (SNAPSHOT stands for the
# snapshot) or SECONDS pass; leaves the last snapshot in $S/GUEST.json.
wait_truth() { # seconds guest truth-args...
        local deadline=$((SECONDS + $1)) g=$2
        shift 2
        while :; do
                truth snapshot "$map" "$g" >"$S/$g.json" || return
                truth "${@/SNAPSHOT/$S/$g.json}" >/dev/null && return 0
                [ $SECONDS -lt $deadline ] || return 1
                sleep 1
        done
}

t0=$SECONDS
wait_truth 180 strict2 on-node SNAPSHOT 2 strict2 --min 0.99 || true
echo "strict2 after $((SECONDS - t0)) s"
check "numa_maps: strict put >= 99 % of every cell of strict2 on the memory-only node 2" \
        truth on-node "$S/strict2.json" 2 strict2 --min 0.99

t0=$SECONDS
wait_truth 180 inter interleave SNAPSHOT inter 0,1 || true
echo "inter after $((SECONDS - t0)) s"
check "numa_maps: interleave split every cell of inter evenly over nodes 0-1 (each within 5 % of half), none on node 2" \
        truth interleave "$S/inter.json" inter 0,1
echo "--- after (vnumad's view, for the record)"
vl_ctl show
vl_ctl status
[ $fails -eq 0 ] || tail -20 "$VL_LOG"
checks_end "strict reached the memory-only node, interleave split evenly (numa_maps)"
