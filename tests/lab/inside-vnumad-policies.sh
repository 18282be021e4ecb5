#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Inside a lab with 2 CPU nodes and a CPU-less memory node (node 2): two plain QEMU guests
# whose RAM starts on node 0. [vm strict2] mode=strict nodes=2 must put all of its pages on
# the memory-only node; [vm inter] mode=interleave nodes=0-1 must split its pages evenly
# (each node's share within 5 % of half).
set -euo pipefail
. "$LAB_DIR/scenario.sh"
. "$LAB_DIR/vnumad-scenario.sh"
trap 'vl_stop_daemon || true; scn_stop_all || true' EXIT
fails=0
check() {
        local what=$1
        shift
        if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}

numactl -H | head -3
scn_qemu_start strict2 --cells 2 --cell-mib 96 --host-node 0 --prealloc
scn_qemu_start inter --cells 2 --cell-mib 96 --host-node 0 --prealloc
echo "--- before"
scn_measure strict2 inter

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

# Bytes per host node over all cells of a guest: "N0 N1 N2".
node_totals() {
        vl_ctl --json show "$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)["domains"][0]
tot = {}
for g in d["guest_nodes"]:
    for k, v in g["host_bytes"].items():
        tot[k] = tot.get(k, 0) + v
print(" ".join(str(tot.get(k, 0)) for k in ("0", "1", "2")))
'
}

t0=$SECONDS
strict_ok=1
deadline=$((SECONDS + 180))
while [ $SECONDS -lt $deadline ]; do
        read -r s0 s1 s2 <<<"$(node_totals strict2)"
        [ "$s2" -gt 0 ] && [ $((s0 + s1)) -le $((s2 / 100)) ] && { strict_ok=0; break; }
        sleep 1
done
echo "strict2 after $((SECONDS - t0)) s: node0 $s0 node1 $s1 node2 $s2 bytes"
check "strict: all of strict2 on the memory-only node 2" test $strict_ok -eq 0

deadline=$((SECONDS + 180))
inter_ok=1
while [ $SECONDS -lt $deadline ]; do
        read -r i0 i1 i2 <<<"$(node_totals inter)"
        if python3 -c "import sys; a, b, c = $i0, $i1, $i2; t = a + b + c; sys.exit(0 if t and c == 0 and abs(a / t - 0.5) <= 0.05 else 1)"; then
                inter_ok=0
                break
        fi
        sleep 1
done
echo "inter: node0 $i0 node1 $i1 node2 $i2 bytes ($(python3 -c "print('%.1f %%' % (100 * $i0 / max(1, $i0 + $i1 + $i2)))") on node 0)"
check "interleave: each node within 5 % of an even share" test $inter_ok -eq 0
echo "--- after"
vl_ctl show
vl_ctl status
[ $fails -eq 0 ] || { echo "FAIL: $fails checks failed"; tail -20 "$VL_LOG"; exit 1; }
echo "PASS: strict reached the memory-only node, interleave split evenly"
