#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Boots a lab and checks that `numactl -H` inside shows exactly the asked topology: node
# count, CPUs of each node, sizes within 5 %, and the distance matrix.
# Usage: test-topology.sh NODES MEMORY_NODE(0|1) MEM_PER_NODE_MIB CPUS_PER_NODE
. "$(dirname "$0")/lib.sh"

nodes=$1 memnode=$2 mib=$3 cpn=$4
total=$((nodes + memnode))
opts=(--nodes "$nodes" --mem-per-node "${mib}M" --cpus-per-node "$cpn" --timeout 180)
[ "$memnode" = 1 ] && opts+=(--memory-node)

out=$LAB_TEST_TMP/out
note "lab run ${opts[*]} -- numactl -H"
lab_run "$out" "${opts[@]}" -- sh -c 'numactl -H && echo "numa_balancing=$(cat /proc/sys/kernel/numa_balancing)"' ||
        fail "lab run exited with status $?"

lab_check_kernel "$out"
grep -qx "available: $total nodes (0-$((total - 1)))" "$out" || fail "expected $total nodes"

for ((i = 0; i < total; i++)); do
        if [ "$memnode" = 1 ] && [ "$i" = "$nodes" ]; then
                want=""
        else
                want=$(seq -s ' ' $((i * cpn)) $((i * cpn + cpn - 1)))
        fi
        got=$(sed -n "s/^node $i cpus: *//p" "$out" | sed 's/ *$//')
        [ "$got" = "$want" ] || fail "node $i cpus: '$got', expected '$want'"

        size=$(sed -n "s/^node $i size: \([0-9]*\) MB$/\1/p" "$out")
        [ -n "$size" ] || fail "no size for node $i"
        # Node 0 also holds the kernel image (~45 MiB) and every node its struct pages
        # (1.6 %), so a node shows a little less than it has; 5 % is the acceptance bound.
        awk -v s="$size" -v m="$mib" 'BEGIN { d = (m - s) / m; exit !(d >= -0.05 && d <= 0.05) }' ||
                fail "node $i size $size MB is not within 5 % of ${mib} MiB"
        echo "node $i: cpus '$got', size $size MB of ${mib} MiB asked"
done

# Distances: 10 local, 20 between nodes with CPUs, 30 to and from the memory node.
header=$(grep -n '^node distances:' "$out" | cut -d: -f1)
[ -n "$header" ] || fail "no distance table"
for ((i = 0; i < total; i++)); do
        row=$(sed -n "$((header + 2 + i))p" "$out" | tr -s ' ' | sed 's/^ //; s/ $//')
        want="$i:"
        for ((j = 0; j < total; j++)); do
                if [ $i = $j ]; then
                        d=10
                elif [ "$memnode" = 1 ] && { [ $i = "$nodes" ] || [ $j = "$nodes" ]; }; then
                        d=30
                else
                        d=20
                fi
                want+=" $d"
        done
        [ "$row" = "$want" ] || fail "distance row $i is '$row', expected '$want'"
done
echo "distances match"

grep -qx 'numa_balancing=1' "$out" || fail "kernel NUMA balancing is not on in the lab"
echo "PASS: $total-node lab matches the asked topology"
