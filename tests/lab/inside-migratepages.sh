#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs inside a 2-node lab: a process whose 200 MiB sit on node 0 is moved to node 1 with
# migratepages, checked in /proc/PID/numa_maps before and after.
set -euo pipefail

mib=200
pages=$((mib * 256))

# Pages the process has on node N, summed over all its mappings.
node_pages() { # pid node
        awk -v n="N$2=" '{ for (i = 1; i <= NF; i++) if (index($i, n) == 1) s += substr($i, length(n) + 1) }
                END { print s + 0 }' "/proc/$1/numa_maps"
}

ready=/run/migratepages-ready
numactl --cpunodebind=0 --membind=0 python3 -c "
import time
buf = b'\x01' * ($mib << 20)   # written, so every page is present
open('$ready', 'w').close()
time.sleep(600)
" &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
for _ in $(seq 600); do
        [ -e "$ready" ] && break
        kill -0 $pid || { echo "FAIL: the allocating process died"; exit 1; }
        sleep 0.1
done
[ -e "$ready" ] || { echo "FAIL: the allocating process never got ready"; exit 1; }

n0=$(node_pages $pid 0)
n1=$(node_pages $pid 1)
echo "before: N0=$n0 N1=$n1 pages (asked $pages on node 0)"
[ "$n0" -ge "$pages" ] || { echo "FAIL: only $n0 pages on node 0 before migrating"; exit 1; }

t0=$EPOCHREALTIME
migratepages $pid 0 1
t1=$EPOCHREALTIME
m0=$(node_pages $pid 0)
m1=$(node_pages $pid 1)
echo "after migratepages $pid 0 1: N0=$m0 N1=$m1 pages, took $(awk -v a=$t0 -v b=$t1 'BEGIN { printf "%.2f", b - a }') s"
[ "$m1" -ge "$pages" ] || { echo "FAIL: only $m1 pages reached node 1"; exit 1; }
# What may stay behind: pages pinned or busy during the move (a few), never the buffer.
[ "$m0" -le $((n0 / 20)) ] || { echo "FAIL: $m0 pages stayed on node 0"; exit 1; }
echo "PASS: migratepages moved the process from node 0 to node 1"
