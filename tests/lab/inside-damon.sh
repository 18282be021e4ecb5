#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Inside a 2-node lab on a kernel with DAMON (6.12: CONFIG_DAMON_VADDR, CONFIG_DAMON_SYSFS): one
# plain QEMU guest "hot" (2 cells x 128 MiB, all RAM on host node 0) whose guest node 1 runs the
# workload's hot pattern (random writes to the first 25 % of a 64 MiB buffer; the workload prints
# the hot pages' guest physical ranges). The same guest is sampled twice, by vnumad with
# sampler = auto (which must take DAMON here) and then with sampler = soft-dirty:
#  (a) cost: vnumad's CPU time (utime+stime of /proc/PID/stat) per period under mode=observe
#      (the sampler runs every period, nothing moves), median of three windows; and the kdamond's;
#  (b) hottest first: under strict nodes=1 at 8 MiB/s, how much of cell 1's hot set is on node 1
#      once 16 MiB (the hot set's size) and 32 MiB of the cell have arrived, by move_pages queries
#      of every page of the cell (hotset.py), against the cold part.
# Then the same with sampler = residency (no hotness: the baseline both add to). Between the runs
# the guest's RAM goes back to node 0 (migratepages).
# Verdicts: DAMON chosen (vnumad's log line, and the kernel's kdamond state in sysfs and its
# thread in /proc), the hot set on node 1 ahead of the cold part with DAMON, and no kdamond left
# (nr_kdamonds 0 and no kdamond thread) after vnumad exits. Then: a kdamond a SIGKILLed vnumad
# left running is taken over by the next one (and removed when it exits); someone else's
# kdamond is left alone, with one log line.
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
. "$here/checks.sh"
trap 'vl_stop_daemon || true; scn_stop_all || true' EXIT
S=$SCN_STATE
ADMIN=/sys/kernel/mm/damon/admin
MIB=$((1 << 20))

echo "kernel $(uname -r)"
[ "$(cat /sys/devices/system/node/online)" = 0-1 ] || die "expected a lab with nodes 0-1"
[ -d "$ADMIN" ] || die "this kernel ($(uname -r)) has no DAMON sysfs interface ($ADMIN)"
[ "$(cat $ADMIN/kdamonds/nr_kdamonds)" = 0 ] || die "a kdamond is configured before vnumad starts"
[ -w /proc/sys/kernel/numa_balancing ] && echo 0 >/proc/sys/kernel/numa_balancing
cpus1=$(cat /sys/devices/system/node/node1/cpulist)

sysread() { # DAMON's sysfs files answer EBUSY while its lock is held: try again
        local i
        for i in $(seq 50); do
                cat "$1" 2>/dev/null && return 0
                sleep 0.1
        done
        cat "$1"
}
kdamond_on() {
        [ "$(sysread $ADMIN/kdamonds/0/state)" = on ]
}
kdamond_on_qemu() {
        kdamond_on && [ "$(sysread $ADMIN/kdamonds/0/contexts/0/targets/0/pid_target)" = "$qpid" ]
}
kdamond_threads() { # pids of kernel threads named kdamond*
        local d
        for d in /proc/[0-9]*; do
                case "$(cat "$d/comm" 2>/dev/null)" in kdamond*) echo "${d##*/}" ;; esac
        done
}
cpu_ticks() { # pid: utime+stime
        awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}
hot_where() {
        python3 "$here/hotset.py" where "$map" hot "$S/hot.serial" 1
}
share() { # json key node
        python3 -c 'import json, sys; d = json.loads(sys.argv[1]); p = d[sys.argv[2]]; t = sum(p.values())
print("%.3f" % (p.get(sys.argv[3], 0) / t if t else 0))' "$1" "$2" "$3"
}
on_node() { # json key node -> bytes
        python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]].get(sys.argv[3], 0))' "$1" "$2" "$3"
}

scn_qemu_start hot --cells 2 --cell-mib 128 --vcpus-per-cell 1 --host-node 0 --prealloc \
        --workload "vnw.size=64M vnw.pattern=hot vnw.hot=25 vnw.nodes=1 vnw.interval=2000"
if ! scn_wait_progress hot 1 600; then
        echo "--- hot's serial console (last lines); QEMU $(kill -0 "$(cat "$S/hot.pid" 2>/dev/null)" 2>/dev/null && echo alive || echo gone)"
        tail -c 3000 "$S/hot.serial" 2>/dev/null | tr -d '\r' || true
        free -m || true
        die "the guest's workload made no progress"
fi
scn_wait_for 30 grep -q 'vnw: hot-gpa node=1 end' "$S/hot.serial" || die "no hot-gpa list from the workload"
grep 'vnw: hot-gpa node=1 end' "$S/hot.serial"
qpid=$(cat "$S/hot.pid")
map=$S/map.json
scn_measure hot -- --json >"$map" || die "vnumactl show --qmp hot failed"

# One sampler's run: cost under observe, then the first moves under strict nodes=1.
# Prints "RESULT sampler cpu_ms_per_period kdamond_ms_per_period hot@16 cold@16 moved@16 hot@32 cold@32 moved@32".
run_sampler() { # sampler-config-value label
        local sampler=$1 label=$2 w p0 p1 c0 c1 k0 k1 kpid="" t0 j m hot16="" cold16="" m16="" hot32="" cold32="" m32=""
        local -a per=() kper=()
        # Both vCPUs on node 1, the memory on node 0: the VM is never settled, so the sampler
        # reads its whole window every period in both runs.
        vl_pin_vcpus hot "$cpus1" || die "cannot pin hot's vCPUs to node 1"
        j=$(hot_where) || die "hotset.py failed"
        check "$label: before vnumad, all of cell 1 is on node 0 (move_pages; saw $(share "$j" cell 0))" \
                test "$(on_node "$j" cell 0)" -ge $((126 * MIB))
        vl_start_daemon "[daemon]
period = 500ms
[policy]
mode = observe
sampler = $sampler"
        vl_wait_managed 60 hot || die "vnumad does not manage hot"
        sleep 3
        if [ "$label" = damon ]; then
                check "damon: vnumad's log says auto chose DAMON" \
                        grep -E 'Sampler auto: residency\+damon \(DAMON with tried_regions' "$VL_LOG"
                grep -E 'Sampler auto' "$VL_LOG" || true
                check "damon: vnumactl status says residency+damon" \
                        sh -c "'$VNUMACTL' --socket '$VL_SOCK' status | grep -q 'residency+damon'"
                echo "sysfs: nr_kdamonds=$(sysread $ADMIN/kdamonds/nr_kdamonds) state=$(sysread $ADMIN/kdamonds/0/state) pid=$(sysread $ADMIN/kdamonds/0/pid) ops=$(sysread $ADMIN/kdamonds/0/contexts/0/operations) targets=$(sysread $ADMIN/kdamonds/0/contexts/0/targets/nr_targets) pid_target=$(sysread $ADMIN/kdamonds/0/contexts/0/targets/0/pid_target 2>/dev/null) sample_us=$(sysread $ADMIN/kdamonds/0/contexts/0/monitoring_attrs/intervals/sample_us) aggr_us=$(sysread $ADMIN/kdamonds/0/contexts/0/monitoring_attrs/intervals/aggr_us) max_regions=$(sysread $ADMIN/kdamonds/0/contexts/0/monitoring_attrs/nr_regions/max) tried_regions=$(ls $ADMIN/kdamonds/0/contexts/0/schemes/0/tried_regions 2>/dev/null | grep -c '^[0-9]' || true)"
                check "damon: the kernel runs kdamond 0 (sysfs state on)" test "$(sysread $ADMIN/kdamonds/0/state)" = on
                kpid=$(sysread $ADMIN/kdamonds/0/pid)
                check "damon: its thread is a live kernel thread kdamond.* (pid $kpid, comm $(cat /proc/"$kpid"/comm 2>/dev/null))" \
                        grep -q '^kdamond' "/proc/$kpid/comm"
                check "damon: it monitors hot's QEMU (pid_target $qpid)" \
                        test "$(sysread $ADMIN/kdamonds/0/contexts/0/targets/0/pid_target)" = "$qpid"
        fi
        # (a) CPU per period: three windows of about 10 s.
        for w in 1 2 3; do
                p0=$(vl_period) c0=$(cpu_ticks "$VL_PID")
                [ -n "$kpid" ] && k0=$(cpu_ticks "$kpid")
                sleep 10
                p1=$(vl_period) c1=$(cpu_ticks "$VL_PID")
                [ -n "$kpid" ] && k1=$(cpu_ticks "$kpid")
                per+=("$(awk -v c=$((c1 - c0)) -v p=$((p1 - p0)) 'BEGIN { printf "%.2f", p ? c * 10 / p : -1 }')")
                [ -n "$kpid" ] && kper+=("$(awk -v c=$((k1 - k0)) -v p=$((p1 - p0)) 'BEGIN { printf "%.2f", p ? c * 10 / p : -1 }')")
                echo "$label window $w: periods $p0..$p1, vnumad $((c1 - c0)) ticks${kpid:+, kdamond $((k1 - k0)) ticks}"
        done
        local med kmed=-
        med=$(printf '%s\n' "${per[@]}" | sort -n | sed -n 2p)
        [ -n "$kpid" ] && kmed=$(printf '%s\n' "${kper[@]}" | sort -n | sed -n 2p)
        echo "$label: vnumad CPU ms per period (windows ${per[*]}), median $med; kdamond ${kper[*]:-none}, median $kmed"

        # (b) hottest first.
        vl_reconfigure "[daemon]
period = 500ms
[policy]
mode = auto
sampler = $sampler
migrate-rate = 8MiB
[vm hot]
mode = strict
nodes = 1" || die "reload failed"
        t0=$SECONDS
        while [ $((SECONDS - t0)) -lt 120 ]; do
                j=$(hot_where) || die "hotset.py failed"
                m=$(on_node "$j" cell 1)
                if [ -z "$m16" ] && [ "$m" -ge $((16 * MIB)) ]; then
                        m16=$m hot16=$(share "$j" hot 1) cold16=$(share "$j" cold 1)
                        echo "$label: $((m / MIB)) MiB of cell 1 on node 1: hot set $hot16 on node 1, cold part $cold16"
                fi
                if [ "$m" -ge $((32 * MIB)) ]; then
                        m32=$m hot32=$(share "$j" hot 1) cold32=$(share "$j" cold 1)
                        echo "$label: $((m / MIB)) MiB of cell 1 on node 1: hot set $hot32 on node 1, cold part $cold32"
                        break
                fi
                sleep 0.3
        done
        [ -n "$m32" ] || echo "$label: cell 1 did not reach 32 MiB on node 1 within 120 s ($((m / MIB)) MiB)"
        grep -E 'VM hot: .*migrat' "$VL_LOG" | head -5 || true
        if [ "$label" = damon ]; then
                # How long vnumad's request for the regions sleeps in the kernel, per period.
                grep -oE 'damon: [0-9]+ regions in [0-9.]+ ms' "$VL_LOG" | awk '{ print $5, $2 }' | sort -n | awk '
                        { t[NR] = $1; n[NR] = $2 }
                        END { if (NR) printf "damon: tried-regions request over %d periods: median %.1f ms, max %.1f ms (regions then %d)\n", NR, t[int((NR + 1) / 2)], t[NR], n[int((NR + 1) / 2)] }' || true
        fi
        vl_stop_daemon
        echo "RESULT $label cpu_ms_per_period=$med kdamond_ms_per_period=$kmed hot@16=${hot16:-?} cold@16=${cold16:-?} moved@16=$((${m16:-0} / MIB))MiB hot@32=${hot32:-?} cold@32=${cold32:-?} moved@32=$((${m32:-0} / MIB))MiB" >"$S/result-$label"
        echo "RESULT $label cpu_ms_per_period=$med kdamond_ms_per_period=$kmed hot@16=${hot16:-?} cold@16=${cold16:-?} moved@16=$((${m16:-0} / MIB))MiB hot@32=${hot32:-?} cold@32=${cold32:-?} moved@32=$((${m32:-0} / MIB))MiB"
        eval "R_${label//-/_}_hot16=\${hot16:-0} R_${label//-/_}_cold16=\${cold16:-1}"
}

run_sampler auto damon
check "damon: after vnumad exits, no kdamond is configured (nr_kdamonds $(sysread $ADMIN/kdamonds/nr_kdamonds))" \
        test "$(sysread $ADMIN/kdamonds/nr_kdamonds)" = 0
left=$(kdamond_threads | tr '\n' ' ')
check "damon: after vnumad exits, no kdamond thread runs (saw: ${left:-none})" test -z "$left"
check "damon: hottest first: the hot set is on node 1 ahead of the cold part once 16 MiB arrived (hot $R_damon_hot16 >= 0.5 and >= 2 x cold $R_damon_cold16)" \
        awk -v h="$R_damon_hot16" -v c="$R_damon_cold16" 'BEGIN { exit !(h >= 0.5 && h >= 2 * c) }'

echo "--- back to node 0"
migratepages "$qpid" 1 0
run_sampler soft-dirty soft-dirty
left=$(kdamond_threads | tr '\n' ' ')
check "soft-dirty: no kdamond ever (saw: ${left:-none})" test -z "$left"
# The baseline both add to: residency alone (no hotness; moves in offset order).
migratepages "$qpid" 1 0
run_sampler residency residency
grep -h '^RESULT' "$S"/result-* 2>/dev/null || true

echo "--- a kdamond left by a SIGKILLed vnumad is taken over; someone else's is left alone"
vl_start_daemon "[daemon]
period = 500ms
[policy]
mode = observe"
vl_wait_managed 60 hot || die "vnumad does not manage hot"
scn_wait_for 20 kdamond_on || die "no kdamond running under vnumad"
kill -9 "$VL_PID"
wait "$VL_PID" 2>/dev/null || true
VL_PID=
rm -f "$VL_SOCK" # left by the killed vnumad: vl_start_daemon waits for a new one
check "a SIGKILLed vnumad leaves its kdamond on (sysfs state $(sysread $ADMIN/kdamonds/0/state))" \
        test "$(sysread $ADMIN/kdamonds/0/state)" = on
vl_start_daemon "[daemon]
period = 500ms
[policy]
mode = observe"
check "the next vnumad says it took that kdamond over" \
        scn_wait_for 20 grep -E 'Sampler damon: took over .*kdamonds/0, left by an earlier vnumad \(it was running\)' "$VL_LOG"
vl_wait_managed 60 hot || die "vnumad does not manage hot"
check "and runs it on hot's QEMU (sysfs state on, pid_target $qpid)" \
        scn_wait_for 20 kdamond_on_qemu
vl_stop_daemon
left=$(kdamond_threads | tr '\n' ' ')
check "after it exits: nr_kdamonds 0 (saw $(sysread $ADMIN/kdamonds/nr_kdamonds)) and no kdamond thread (saw: ${left:-none})" \
        test "$(sysread $ADMIN/kdamonds/nr_kdamonds)" = 0 -a -z "$left"
echo 1 >$ADMIN/kdamonds/nr_kdamonds # someone else's, configured and off
vl_start_daemon "[daemon]
period = 500ms
[policy]
mode = observe"
grep 'Sampler auto' "$VL_LOG" || true
check "auto leaves someone else's kdamond alone and says so in one line" \
        test "$(grep -cE 'Sampler auto: residency(\+soft-dirty)? \(DAMON: .*someone else' "$VL_LOG")" = 1
vl_stop_daemon
check "someone else's kdamond is still configured after vnumad exits (nr_kdamonds $(sysread $ADMIN/kdamonds/nr_kdamonds))" \
        test "$(sysread $ADMIN/kdamonds/nr_kdamonds)" = 1
echo 0 >$ADMIN/kdamonds/nr_kdamonds

echo "--- vnumad log (last lines)"
tail -8 "$VL_LOG"
checks_end "DAMON chosen on $(uname -r), hottest chunks first, no kdamond left after exit"
