#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The peer benchmark's part INSIDE a 2-node lab with one CPU per node (contrib/bench/lab-peers.sh
# boots it, one lab per mode). For each scenario, one after the other: start the nested guest(s)
# (plain QEMU, all memory on host node 0, vCPUs unpinned), wait until their workload has run
# WARMUP seconds, start MODE, record locality and work every 10 s for SECONDS (lab-peers.py
# sample), stop MODE and the guests (waiting until the QEMUs are gone).
#
# Usage: lab-peers-inside.sh MODE SCENARIOS SECONDS WARMUP [PLACEMENT]
#   MODE       none | autonuma | numad | vnumad | vnumad-nopin (vnumad with pin = none: its
#              memory moves without its pins, to tell what each costs)
#   SCENARIOS  comma-separated: a, b, c, d (contrib/bench/lab-peers.sh --help says what they are)
#   PLACEMENT  membind (default): scn_qemu_start's numactl --membind=0, for the QEMU's lifetime;
#              first-touch: the QEMU starts on node 0's CPU instead (its prealloc'd RAM lands on
#              node 0 by first touch), then all its threads may run anywhere; its memory policy
#              stays the default one, which the kernel's NUMA balancing can act on (a bind policy
#              without MPOL_F_NUMA_BALANCING is never scanned)
# Environment: SCN_GUEST_INITRD (lab guest-initrd), VNUMA_BUILD_ROOT (vnumad, vnumactl), and from
# lab run LAB_DIR, LAB_RUN_DIR. Results go to $LAB_RUN_DIR/bench/: lab-peers.csv and
# lab-peers-cells.csv (rows without header), the guests' serial logs, vnumad's or numad's log.
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
mode=${1:?usage: lab-peers-inside.sh MODE SCENARIOS SECONDS WARMUP}
scenarios=${2:?}
seconds=${3:?}
warmup=${4:?}
placement=${5:-membind}
case "$placement" in membind | first-touch) ;; *) echo "lab-peers: unknown placement '$placement'"; exit 1 ;; esac
: "${LAB_RUN_DIR:?run me inside a lab (lab run)}"
: "${VNUMA_BUILD_ROOT:?}"
export VNUMACTL=$VNUMA_BUILD_ROOT/src/vnumactl
VNUMAD=$VNUMA_BUILD_ROOT/src/vnumad
# shellcheck source-path=SCRIPTDIR/../lab
. "$LAB_DIR/scenario.sh"
export PYTHONDONTWRITEBYTECODE=1

OUT=$LAB_RUN_DIR/bench
mkdir -p "$OUT"
INTERVAL_MS=2000
BOOT_TIMEOUT=1200
# Every cell 192 MiB, prealloc'd on host node 0; the workload streams over 64 MiB per guest node.
GUEST=(--cells 2 --cell-mib 192 --vcpus-per-cell 1 --host-node 0 --prealloc)
WORKLOAD="vnw.size=64M vnw.pattern=stream vnw.interval=$INTERVAL_MS"
MODE_PID=

say() {
        echo "lab-peers: [$scn/$mode] $*"
}

[ "$(cat /sys/devices/system/node/online)" = 0-1 ] ||
        { echo "lab-peers: expected a lab with nodes 0-1, saw $(cat /sys/devices/system/node/online)"; exit 1; }
for n in 0 1; do
        [ "$(cat /sys/devices/system/node/node$n/cpulist)" = "$n" ] ||
                { echo "lab-peers: expected one CPU per node (node $n has CPUs $(cat /sys/devices/system/node/node$n/cpulist))"; exit 1; }
done

# scn_qemu_start runs `numactl --membind=NODE qemu-system-x86_64 ...`; with first-touch placement
# this function (a function wins over the program of the same name) binds the CPUs instead.
numactl() {
        if [ "$placement" = first-touch ] && [[ ${1:-} == --membind=* ]]; then
                command numactl --cpunodebind="${1#--membind=}" "${@:2}"
        else
                command numactl "$@"
        fi
}

set_balancing() {
        echo "$1" >/proc/sys/kernel/numa_balancing
}

# The guests of a scenario, as "NAME VNW-WORDS" lines.
guests_of() { # scenario
        case "$1" in
        a) echo "g1 vnw.nodes=0-1" ;;
        b) echo "g1 vnw.nodes=0" ;;
        c) echo "g1 vnw.nodes=0-1"; echo "g2 vnw.nodes=0-1" ;;
        # The switch comes at half of the measured time: the mode starts at workload time WARMUP.
        d) echo "g1 vnw.nodes=0 vnw.phase=$((warmup + seconds / 2))" ;;
        *) return 1 ;;
        esac
}

# The latest workload time of a guest's serial log, 0 before any progress line; fails when the
# workload or the guest said it had stopped.
workload_time() { # name
        local log=$SCN_STATE/$1.serial
        [ -f "$log" ] || { echo 0; return 0; }
        if grep -q -e "guest-init: the workload exited" -e "Kernel panic" "$log"; then
                return 1
        fi
        tr -d '\r' <"$log" | awk '/^vnw: t=/ { t = substr($2, 3) + 0 } END { print int(t) }'
}

start_mode() {
        case "$mode" in
        none) ;;
        autonuma) set_balancing 1 ;;
        numad)
                rm -f /var/log/numad.log /var/run/numad.pid
                numad -l 6 || { say "numad did not start"; return 1; }
                scn_wait_for 10 test -s /var/run/numad.pid || { say "numad wrote no pid file"; return 1; }
                MODE_PID=$(cat /var/run/numad.pid)
                ;;
        vnumad | vnumad-nopin)
                mkdir -p /run/lab-peers
                # The defaults an operator gets (period 1 s), auto mode.
                printf '[policy]\nmode = auto\n' >/run/lab-peers/vnumad.conf
                [ "$mode" = vnumad ] || echo "pin = none" >>/run/lab-peers/vnumad.conf
                "$VNUMAD" --foreground --no-libvirt --config /run/lab-peers/vnumad.conf \
                        --socket /run/lab-peers/vnumad.sock --qmp-dir "$SCN_QMP_DIR" --log-level debug \
                        >"/run/lab-peers/vnumad-$scn.log" 2>&1 &
                MODE_PID=$!
                scn_wait_for 20 test -S /run/lab-peers/vnumad.sock ||
                        { tail -20 "/run/lab-peers/vnumad-$scn.log"; say "vnumad did not start"; return 1; }
                ;;
        esac
        say "mode started (numa_balancing $(cat /proc/sys/kernel/numa_balancing)${MODE_PID:+, pid $MODE_PID})"
}

# The balancer's own CPU time over the scenario (utime + stime of vnumad or numad, in seconds):
# in the lab every cycle it takes is a cycle the guests do not get.
record_cpu() {
        local stat
        [ -n "$MODE_PID" ] && stat=$(cat "/proc/$MODE_PID/stat" 2>/dev/null) || return 0
        awk -v scn="$scn" -v mode="$mode" -v hz="$(getconf CLK_TCK)" \
                '{ sub(/^.*\) /, ""); printf "%s,%s,%.2f\n", scn, mode, ($12 + $13) / hz }' <<<"$stat" >>"$OUT/balancer-cpu.csv"
}

stop_mode() {
        set_balancing 0
        record_cpu
        if [ -n "$MODE_PID" ]; then
                kill "$MODE_PID" 2>/dev/null || true
                scn_wait_for 20 sh -c "! kill -0 $MODE_PID" || kill -9 "$MODE_PID" 2>/dev/null || true
                if [ "${mode%-nopin}" = vnumad ]; then
                        wait "$MODE_PID" 2>/dev/null || true
                fi
        fi
        MODE_PID=
        case "$mode" in
        numad) cp /var/log/numad.log "$OUT/numad-$scn.log" 2>/dev/null || true ;;
        vnumad | vnumad-nopin)
                cp "/run/lab-peers/vnumad-$scn.log" "$OUT/" 2>/dev/null || true
                rm -f /run/lab-peers/vnumad.sock
                ;;
        esac
}

# Stops every guest and waits until its QEMU is gone, so the next scenario starts on an idle lab.
stop_guests() {
        local pids=() p name
        for name in "$@"; do
                [ -f "$SCN_STATE/$name.pid" ] && pids+=("$(cat "$SCN_STATE/$name.pid")")
                cp "$SCN_STATE/$name.serial" "$OUT/$scn-$mode-$name.serial" 2>/dev/null || true
        done
        scn_stop_all || true
        for p in "${pids[@]}"; do
                scn_wait_for 30 sh -c "! kill -0 $p" || kill -9 "$p" 2>/dev/null || true
                scn_wait_for 10 sh -c "! kill -0 $p" || say "QEMU $p is still there"
        done
        rm -f "$SCN_STATE"/*.serial "$SCN_STATE"/*.pid "$SCN_QMP_DIR"/*.sock
}

cleanup() {
        stop_mode || true
        scn_stop_all || true
}
trap cleanup EXIT

set_balancing 0
rc=0
for scn in ${scenarios//,/ }; do
        names=()
        guests_of "$scn" >/dev/null || { echo "lab-peers: unknown scenario '$scn'"; exit 1; }
        t_scn=$SECONDS
        while read -r name words; do
                scn_qemu_start "$name" "${GUEST[@]}" --workload "$WORKLOAD $words" || exit 1
                if [ "$placement" = first-touch ]; then
                        # Its RAM is on node 0 now (prealloc); from here its threads run anywhere.
                        taskset -a -p -c "$(cat /sys/devices/system/cpu/online)" "$(cat "$SCN_STATE/$name.pid")" >/dev/null ||
                                { say "cannot unpin $name"; exit 1; }
                fi
                names+=("$name")
        done <<<"$(guests_of "$scn")" # (no /dev/fd in the lab for a process substitution)
        say "guests ${names[*]} started (all memory on node 0 by $placement, vCPUs unpinned); waiting for ${warmup} s of workload"
        # Nested guests boot in 3-6 minutes under TCG inside TCG, two at once (c) or on a busy
        # machine in more: one deadline for all of them.
        ok=1
        deadline=$((SECONDS + BOOT_TIMEOUT))
        for name in "${names[@]}"; do
                while :; do
                        t=$(workload_time "$name") || { say "the workload of $name stopped:"; tail -5 "$SCN_STATE/$name.serial"; ok=0; break; }
                        [ "$t" -ge "$warmup" ] && break
                        [ $SECONDS -lt $deadline ] ||
                                { say "no ${warmup} s of workload from $name within $BOOT_TIMEOUT s of the guests' start"; ok=0; break; }
                        sleep 2
                done
                [ $ok -eq 1 ] || break
        done
        if [ $ok -eq 0 ]; then
                tail -5 "$SCN_STATE"/*.serial || true
                rc=1
                stop_guests "${names[@]}"
                continue
        fi
        say "guests ran their workload after $((SECONDS - t_scn)) s"
        # The address map (pids, each cell's host virtual ranges, vCPU thread ids), from QMP before
        # vnumad holds the sockets.
        map=$SCN_STATE/map-$scn.json
        qmps=()
        for name in "${names[@]}"; do qmps+=(--qmp "$(scn_qmp "$name")"); done
        "$VNUMACTL" show "${qmps[@]}" --json >"$map" ||
                { say "vnumactl show failed"; rc=1; stop_guests "${names[@]}"; continue; }
        cp "$map" "$OUT/map-$scn.json"
        # The sampler records t = 0 (before the mode), then the mode starts and t counts from there.
        rm -f "$SCN_STATE/ready" "$SCN_STATE/go"
        python3 "$here/lab-peers.py" sample --map "$map" --serial "$SCN_STATE" --scenario "$scn" \
                --mode "$mode" --seconds "$seconds" --interval-ms "$INTERVAL_MS" \
                --csv "$OUT/lab-peers.csv" --cells-csv "$OUT/lab-peers-cells.csv" \
                --ready "$SCN_STATE/ready" --go "$SCN_STATE/go" &
        sampler=$!
        scn_wait_for 60 test -e "$SCN_STATE/ready" || say "the sampler did not record t = 0"
        if start_mode; then
                touch "$SCN_STATE/go"
        else
                rc=1
        fi
        wait "$sampler" || rc=1
        if [ "${mode%-nopin}" = vnumad ] && ! kill -0 "$MODE_PID" 2>/dev/null; then
                say "vnumad exited during the run"
                rc=1
        fi
        stop_mode
        stop_guests "${names[@]}"
        say "done in $((SECONDS - t_scn)) s"
done
exit $rc
