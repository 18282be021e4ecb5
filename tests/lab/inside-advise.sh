#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Inside a 2-node lab (2 CPUs per node): `vnumactl advise -w 1:128` (numad's -w, issue 16) picks
# the emptiest fitting node while another guest loads one node.
#
# The other guest, "busy": a plain QEMU with 2 cells x 192 MiB (prealloc'd, started on node 1)
# whose vCPU 0 spins from its first instruction (scenario.sh --spin), so it is a whole busy CPU
# wherever it runs. vnumad places it by operator policy: strict nodes=0, then strict nodes=1.
# Each time the test waits until the kernel has it there (numa_maps: every cell >= 98.5 % on the
# node; Cpus_allowed_list: the vCPUs pinned to that node's CPUs; /proc/stat: that node is the
# busy one) and vnumad has run periods since, then asks for advice. The node the advice must
# name is the node the kernel says the guest does NOT occupy: node 1, then node 0, so a fixed
# answer fails one of the two.
#
# Without the daemon (stopped; the pins and pages it left stay, checked), vnumactl reads the host
# once (free memory per node, busy CPUs from /proc/stat over 0.1 s). The guest's spinning vCPU
# still keeps its node busy, so the one-shot answer must be the same other node, and the kernel
# must agree that it fits: MemFree >= 128 MiB + vnumad's 256 MiB reserve, and the node's busy
# CPUs + 1 within its CPUs (+ the 0.1 slack of the capacity rule).
#
# --json is checked against the human output each time: same nodeset, source "daemon" or
# "host", vcpus 1, mem_mib 128, no errors.
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
. "$here/checks.sh"
trap 'vl_stop_daemon || true; scn_stop_all || true' EXIT
S=$SCN_STATE
REQ_VCPUS=1
REQ_MIB=128
RESERVE_MIB=256 # vnumad's default mem-reserve (policy_params_init), used by the one-shot too
NO_SOCK=/run/no-vnumad/vnumad.sock

[ "$(cat /sys/devices/system/node/online)" = 0-1 ] || die "expected a lab with nodes 0-1, saw $(cat /sys/devices/system/node/online)"
# Kernel NUMA balancing would pull pages after the spinning vCPU on its own; the placements
# here are to be vnumad's.
[ -w /proc/sys/kernel/numa_balancing ] && echo 0 >/proc/sys/kernel/numa_balancing
echo "numa_balancing $(cat /proc/sys/kernel/numa_balancing 2>/dev/null || echo absent); node 0 CPUs" \
        "$(cat /sys/devices/system/node/node0/cpulist), node 1 CPUs $(cat /sys/devices/system/node/node1/cpulist)"

# Busy CPUs per node over 1 s, from /proc/stat (the kernel's accounting, not vnumad's): "B0 B1".
node_busy() { truth node-busy 1; }

node_memfree_mib() { # node
        awk '/MemFree:/ { print int($4 / 1024) }' "/sys/devices/system/node/node$1/meminfo"
}

node_ncpus() { truth node-cpus "$1"; }

# Checks `vnumactl advise -w 1:128 --json` (printed on stdout by the caller's command) against the
# human answer: same nodeset, the given source, the request echoed, no errors.
json_agrees() { # json-text nodeset source
        python3 -c '
import json, sys
d = json.loads(sys.argv[1])
want = {"nodeset": sys.argv[2], "source": sys.argv[3], "vcpus": int(sys.argv[4]), "mem_mib": int(sys.argv[5]),
        "errors": []}
got = {k: d.get(k) for k in want}
print("  --json: %s" % json.dumps(got, sort_keys=True))
sys.exit(0 if got == want and isinstance(d.get("schema_version"), int) else 1)' "$1" "$2" "$3" "$REQ_VCPUS" "$REQ_MIB"
}

# One advice, human and --json, with CTL ARGS... as the vnumactl invocation (before "advise"):
# checks exit 0 and the JSON's agreement, tagged LABEL; the human nodeset is left in $ADVICE.
advise() { # label source ctl-args...
        local label=$1 source=$2 js rc=0
        shift 2
        ADVICE=$("$@" advise -w "$REQ_VCPUS:$REQ_MIB" 2>"$S/advise.err") || rc=$?
        check "$label: vnumactl advise -w $REQ_VCPUS:$REQ_MIB exits 0 (saw $rc; stderr: $(tr '\n' ' ' <"$S/advise.err"))" \
                test "$rc" -eq 0
        js=$("$@" advise -w "$REQ_VCPUS:$REQ_MIB" --json 2>>"$S/advise.err") || true
        check "$label: --json says nodeset \"$ADVICE\" (as the human output), source $source, the request, no errors" \
                json_agrees "$js" "$ADVICE" "$source"
}

# The daemon's advice over several periods: every answer must be the same node while nothing
# moves (an advice that flips between periods is a coin, not a model). Prints vnumad's log of them.
advise_steady() { # label want
        local answers="" i l0
        l0=$(wc -l <"$VL_LOG")
        for i in 1 2 3 4 5 6; do
                answers+="$(vl_ctl advise -w "$REQ_VCPUS:$REQ_MIB" 2>/dev/null || echo fail) "
                sleep 0.4
        done
        tail -n +$((l0 + 1)) "$VL_LOG" | grep 'advise:' | tail -12
        check "$1: 6 more answers of the daemon over ~3 s (6 periods) are all node $2 (saw $answers)" \
                test "$answers" = "$2 $2 $2 $2 $2 $2 "
}

# Waits until the kernel has every cell of busy >= 98.5 % on NODE and its vCPUs pinned to NODE's
# CPUs; then until vnumad has run 30 more periods (15 s: its averaged load is from after the move).
wait_placed() { # node
        local node=$1 deadline=$((SECONDS + 120)) t0=$SECONDS p
        while [ $SECONDS -lt $deadline ]; do
                truth snapshot "$map" busy >"$S/now.json" || die "cannot read numa_maps of busy"
                if truth on-node "$S/now.json" "$node" busy --min 0.985 >/dev/null &&
                        truth pinned "$S/now.json" busy --homes "$node,$node" >/dev/null; then
                        break
                fi
                kill -0 "$VL_PID" 2>/dev/null || die "vnumad exited"
                sleep 1
        done
        truth show "$S/now.json"
        check "numa_maps: vnumad put every cell of busy on node $node (>= 98.5 %) within 120 s (took $((SECONDS - t0)) s)" \
                truth on-node "$S/now.json" "$node" busy --min 0.985
        check "Cpus_allowed_list: busy's vCPUs pinned to node $node's CPUs" \
                truth pinned "$S/now.json" busy --homes "$node,$node"
        # The advice's load is averaged over ~5 s (vnumad(8)): 3 time constants of periods.
        p=$(vl_period)
        deadline=$((SECONDS + 60))
        while [ "$(vl_period)" -lt $((p + 30)) ]; do
                [ $SECONDS -lt $deadline ] || die "vnumad ran no 30 periods in 60 s"
                sleep 1
        done
}

# The node the kernel has the guest on: every cell's home (numa_maps) must be the same node.
guest_node() {
        truth homes "$S/now.json" busy | awk '{ print $2 }' | sort -u | python3 -c '
import sys
nodes = sys.stdin.read().split()
sys.exit("busy is not on one node: %s" % nodes) if len(nodes) != 1 else print(nodes[0])'
}

# The kernel's word that NODE is the busy one and the other is not.
check_load() { # label loaded-node
        local busy b0 b1 lo hi
        busy=$(node_busy)
        read -r b0 b1 <<<"$busy"
        echo "/proc/stat: busy CPUs over 1 s: node 0 $b0, node 1 $b1"
        if [ "$2" = 0 ]; then lo=$b1 hi=$b0; else lo=$b0 hi=$b1; fi
        check "$1: /proc/stat: node $2 is loaded (>= 0.7 CPU busy, saw $hi) and the other has >= 0.5 CPU more idle (saw $lo busy)" \
                awk -v hi="$hi" -v lo="$lo" 'BEGIN { exit !(hi >= 0.7 && hi - lo >= 0.5) }'
}

# Where the one-shot's answer must fit, by the kernel: memory and CPUs.
check_fits() { # label node
        local free ncpu busy b
        free=$(node_memfree_mib "$2")
        ncpu=$(node_ncpus "$2")
        busy=$(node_busy)
        b=$(awk -v n="$2" '{ print $(n + 1) }' <<<"$busy")
        check "$1: node $2 fits the request by the kernel's MemFree ($free MiB >= $REQ_MIB + $RESERVE_MIB reserve)" \
                test "$free" -ge $((REQ_MIB + RESERVE_MIB))
        check "$1: node $2 fits the request by /proc/stat ($b busy + $REQ_VCPUS <= $ncpu CPUs + 0.1)" \
                awk -v b="$b" -v r="$REQ_VCPUS" -v n="$ncpu" 'BEGIN { exit !(b + r <= n + 0.1) }'
}

# --- the loaded guest, started on node 1 so that vnumad's first placement is a real move.
scn_qemu_start busy --cells 2 --cell-mib 192 --vcpus-per-cell 1 --host-node 1 --prealloc --spin ||
        die "cannot start the busy guest"
map=$S/map.json
scn_measure busy -- --json >"$map" || die "vnumactl show --qmp busy failed"
truth_snapshot "$map" "$S/start.json" busy || die "cannot read numa_maps of busy"
truth on-node "$S/start.json" 1 busy >/dev/null || die "precondition: busy's RAM should start on node 1"

# vnumad's config: busy held on NODE by operator policy.
busy_on() { # node
        printf '[daemon]\nperiod = 500ms\n[policy]\nmode = auto\nmigrate-rate = 256MiB\n[vm busy]\nmode = strict\nnodes = %s\n' "$1"
}

vl_start_daemon "$(busy_on 0)" || die "vnumad did not start"
vl_wait_managed 30 busy || die "vnumad does not manage busy"

# One phase: busy placed on NODE by vnumad (policy strict nodes=NODE, already in force); the
# daemon's advice must be the other node and stay so. Sets g, other and ADVICE.
daemon_phase() { # node
        echo "--- t=${SECONDS}s: busy placed on node $1 by vnumad"
        wait_placed "$1"
        g=$(guest_node) || die "busy is not on one node"
        other=$((1 - g))
        check "numa_maps: the node busy occupies is node $1, the policy's (saw $g)" test "$g" = "$1"
        check_load "busy on node $g" "$g"
        advise "daemon, busy on node $g" daemon vl_ctl
        check "daemon, busy on node $g: the advice is node $other, the emptiest fitting node (saw \"$ADVICE\")" \
                test "$ADVICE" = "$other"
        advise_steady "daemon, busy on node $g" "$other"
}

# --- 1: busy on node 0 -> the advice is node 1.
daemon_phase 0
a1=$ADVICE
check "vnumad logged the advice it gave" grep -q "advise: $REQ_VCPUS vCPUs, $REQ_MIB MiB -> nodes $other " "$VL_LOG"
advise "one-shot (no socket), busy on node $g" host "$VNUMACTL" --socket "$NO_SOCK"
o1=$ADVICE
check "one-shot (no socket), busy on node $g: the advice is node $other too (saw \"$o1\")" test "$o1" = "$other"

# --- 2: the operator moves busy to node 1 -> the advice flips to node 0.
vl_reconfigure "$(busy_on 1)" || die "vnumad did not reload"
daemon_phase 1
a2=$ADVICE
check "the advice changed with the guest's node (saw \"$a1\" then \"$a2\")" test "$a1" != "$a2"

# --- 3: no daemon. vnumad leaves its pins and pages behind; the kernel says so.
echo "--- t=${SECONDS}s: vnumad stopped"
vl_stop_daemon
truth snapshot "$map" busy >"$S/nodaemon.json" || die "cannot read numa_maps of busy"
check "vnumad stopped: busy still all on node $g (numa_maps) with its vCPUs pinned there" \
        sh -c "python3 '$here/truth.py' on-node '$S/nodaemon.json' $g busy --min 0.985 >/dev/null &&
                python3 '$here/truth.py' pinned '$S/nodaemon.json' busy --homes $g,$g >/dev/null"
check_load "no daemon, busy on node $g" "$g"
advise "no daemon, busy on node $g" host vl_ctl
o2=$ADVICE
check "no daemon, busy on node $g: the one-shot advice is node $other (saw \"$o2\")" test "$o2" = "$other"
check_fits "no daemon" "$o2"
echo "--- t=${SECONDS}s: done"
checks_end "vnumactl advise named the node the busy guest does not occupy (numa_maps), node $a1 then node $a2, with and without vnumad"
