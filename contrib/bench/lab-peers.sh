#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The peer benchmark (issue 12): vnumad against no balancer, the kernel's AutoNUMA and numad, on
# nested guests in a 2-node lab with ONE CPU per node. The build machine has 2 cores, so each lab
# CPU is a real core and CPU contention shows in the guests' work; more lab CPUs would share cores
# and hide it. The lab's two CPUs are pinned one per host core (lab run --pin-cpus): left to the
# host's scheduler they may share a core, which would explain the slow runs of scenario a on
# 2026-12-07 (the guest vCPU pinned to lab node 1 ran at half speed for minutes). It is a benchmark, not a test: long, noisy, and it compares modes measured in the
# same run.
#
# Every mode runs in a fresh lab boot; the scenarios of a mode run one after the other in that
# lab, each guest fully stopped before the next scenario starts. Per scenario: the nested guest(s)
# start (plain QEMU, 2 cells x 1 vCPU x 192 MiB, all memory prealloc'd on host node 0, vCPUs
# unpinned), their workload runs --warmup seconds, then the mode starts and, every 10 s for
# --seconds, the guests' access locality and their own work rate are recorded
# (contrib/bench/lab-peers.py says exactly how).
#
# With --repeat N the modes run N times, interleaved (all modes once, then again), so a slow
# spell of the machine hits every mode alike; the medians pool the records of every run.
#
# Output in --out DIR: lab-peers.csv (scenario,mode,t,locality,work,run), lab-peers-cells.csv (per
# guest cell), lab-peers.md (the tables), lab-peers.svg (the plot), and per mode and run (MODE,
# MODE-r2, ..) the guests' serial logs and vnumad's or numad's log. Exits 1 when one of the benchmark's own checks failed
# (vnumad's work >= 0.95 x the best peer's in every scenario; locality >= 0.95 within 30 s in a,
# with the cells on different nodes, and in d), 2 when a lab run failed.
set -euo pipefail

here=$(dirname "$(readlink -f "$0")")
src=$(cd "$here/../.." && pwd)
LAB=$src/contrib/lab/lab

usage() {
        cat <<EOF
Usage: contrib/bench/lab-peers.sh [OPTIONS]

  --seconds N        measured time per scenario and mode, from the mode's start (default 150)
  --scenarios LIST   comma-separated, of (default a,b,c,d):
                       a  one guest, both cells busy: 2 busy vCPUs that do not fit one node's CPU
                       b  one guest, only cell 0 busy: keeping the VM together may be right
                       c  two guests, all cells busy: an overcommitted host (4 busy vCPUs, 2 CPUs)
                       d  one guest, cell 0 busy, then cell 1 from half of --seconds: a phase change
  --modes LIST       comma-separated, of none,autonuma,numad,vnumad (default all four), and
                     vnumad-nopin (vnumad with pin = none; not a peer, not checked)
  --warmup S         seconds the guests' workload runs before the mode starts (default 20)
  --repeat N         run every mode N times, interleaved; medians pool all runs (default 1)
  --placement P      how the guests' memory is put on host node 0 (default first-touch):
                       first-touch  the QEMU starts on node 0's CPU, its RAM is prealloc'd there,
                                    then its threads are unpinned; the default memory policy
                                    lets AutoNUMA move pages too
                       membind      scn_qemu_start's numactl --membind=0 for the QEMU's lifetime;
                                    the kernel's NUMA balancing never scans memory under a bind
                                    policy, so AutoNUMA can place tasks but not move memory
  --build DIR        build tree with src/vnumad, src/vnumactl and tests/lab/guest-workload
                     (default: build-bench, else build, in the source tree)
  --out DIR          results (default: BUILD/lab-peers-DATE)
  --kernel SERIES    the lab kernel (contrib/lab/kernels)
  -h, --help

A full run (4 scenarios x 4 modes, 150 s) takes about 2 hours on 2 cores: each scenario boots
its nested guests anew, which takes 3-6 minutes (TCG inside TCG).
EOF
}

seconds=150 scenarios=a,b,c,d modes=none,autonuma,numad,vnumad warmup=20 placement=first-touch build="" out="" kernel=()
repeat=1
while [ $# -gt 0 ]; do
        case "$1" in
        --seconds) seconds=${2:?}; shift 2 ;;
        --scenarios) scenarios=${2:?}; shift 2 ;;
        --modes) modes=${2:?}; shift 2 ;;
        --warmup) warmup=${2:?}; shift 2 ;;
        --repeat) repeat=${2:?}; shift 2 ;;
        --placement) placement=${2:?}; shift 2 ;;
        --build) build=${2:?}; shift 2 ;;
        --out) out=${2:?}; shift 2 ;;
        --kernel) kernel=(--kernel "${2:?}"); shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
        esac
done

die() {
        echo "lab-peers: $*" >&2
        exit 2
}

progress() {
        echo "lab-peers: $(date +%H:%M:%S) $*"
}

[[ $seconds =~ ^[1-9][0-9]*$ && $seconds -ge 30 ]] || die "--seconds must be a number >= 30, not '$seconds'"
[[ $warmup =~ ^[0-9]+$ ]] || die "--warmup must be a number of seconds, not '$warmup'"
[[ $repeat =~ ^[1-9][0-9]*$ ]] || die "--repeat must be a number >= 1, not '$repeat'"
case "$placement" in membind | first-touch) ;; *) die "--placement must be membind or first-touch, not '$placement'" ;; esac
for s in ${scenarios//,/ }; do
        case "$s" in a | b | c | d) ;; *) die "unknown scenario '$s' (a, b, c, d)" ;; esac
done
for m in ${modes//,/ }; do
        case "$m" in none | autonuma | numad | vnumad | vnumad-nopin) ;;
        *) die "unknown mode '$m' (none, autonuma, numad, vnumad, vnumad-nopin)" ;; esac
done
if [ -z "$build" ]; then
        for b in build-bench build; do
                [ -x "$src/$b/src/vnumad" ] && { build=$src/$b; break; }
        done
        [ -n "$build" ] || die "no build tree with src/vnumad (meson setup build-bench && ninja -C build-bench), or pass --build"
fi
build=$(cd "$build" && pwd)
for p in src/vnumad src/vnumactl tests/lab/guest-workload; do
        [ -x "$build/$p" ] || die "no $build/$p (ninja -C $build)"
done
out=${out:-$build/lab-peers-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
out=$(cd "$out" && pwd)

case ",$modes," in
*,numad,*)
        if ! command -v numad >/dev/null; then
                # shellcheck disable=SC1091 # contrib/deps.sh
                . "$src/contrib/deps.sh"
                ensure_packages numad || die "numad is not installed and could not be installed"
        fi
        ;;
esac

initrd=$("$LAB" guest-initrd --workload "$build/tests/lab/guest-workload") || die "lab guest-initrd failed"
nscn=$(tr ',' '\n' <<<"$scenarios" | grep -c .)
# Boot of the nested guests (up to 20 minutes, see lab-peers-inside.sh), warm-up and the run.
timeout=$((nscn * (seconds + warmup + 1260) + 120))

echo "scenario,mode,t,locality,work,run" >"$out/lab-peers.csv"
echo "scenario,mode,t,guest,cell,work,home,node_bytes,vcpu_node,vcpu_samples,locality,vcpu_cpu,run" >"$out/lab-peers-cells.csv"
progress "results in $out; $seconds s per scenario ($scenarios) and mode ($modes), $repeat run(s), memory placed by $placement"
t_all=$SECONDS
lab_failed=0
monitor=
trap '[ -z "$monitor" ] || kill "$monitor" 2>/dev/null || true' EXIT
for run in $(seq 1 "$repeat"); do
        for mode in ${modes//,/ }; do
                mdir=$mode
                [ "$run" -eq 1 ] || mdir=$mode-r$run
                others=$(pgrep -c qemu-system || true)
                progress "mode $mode, run $run of $repeat: booting a lab (2 nodes x 1 CPU); other QEMU processes on this machine now: $others"
                mkdir -p "$out/$mdir"
                t_mode=$SECONDS
                # Is the machine quiet? Every QEMU on it, this benchmark's own lab included, every 15 s.
                (while :; do echo "$(date +%s) $(pgrep -c qemu-system || true)"; sleep 15; done) >"$out/$mdir/qemu-count.txt" &
                monitor=$!
                # The run directory (kept) holds what the inside script wrote to $LAB_RUN_DIR/bench.
                set +e
                "$LAB" run --nodes 2 --cpus-per-node 1 --mem-per-node 2G --timeout "$timeout" --keep --pin-cpus "${kernel[@]}" \
                        --env SCN_GUEST_INITRD="$initrd" --env VNUMA_BUILD_ROOT="$build" \
                        -- bash "$here/lab-peers-inside.sh" "$mode" "$scenarios" "$seconds" "$warmup" "$placement" \
                        2>"$out/$mdir/lab-stderr.log" | tee "$out/$mdir/lab-stdout.log" |
                        while IFS= read -r line; do
                                case "$line" in
                                lab-peers:* | scenario:*) echo "lab-peers: $(date +%H:%M:%S) ${line#lab-peers: }" ;;
                                esac
                        done
                rc=${PIPESTATUS[0]}
                set -e
                if [ "$rc" -ne 0 ]; then
                        tail -n 20 "$out/$mdir/lab-stderr.log" "$out/$mdir/lab-stdout.log" >&2 || true
                fi
                rundir=$(sed -n 's/^lab: run directory: //p' "$out/$mdir/lab-stderr.log" | tail -n1)
                if [ -n "$rundir" ] && [ -d "$rundir" ]; then
                        cp -r "$rundir/bench/." "$out/$mdir/" 2>/dev/null || true
                        cp "$rundir/console.log" "$out/$mdir/lab-console.log" 2>/dev/null || true
                        rm -rf "$rundir"
                fi
                [ -f "$out/$mdir/lab-peers.csv" ] && sed "s/\r\$//; s/\$/,$run/" "$out/$mdir/lab-peers.csv" >>"$out/lab-peers.csv"
                [ -f "$out/$mdir/lab-peers-cells.csv" ] && sed "s/\r\$//; s/\$/,$run/" "$out/$mdir/lab-peers-cells.csv" >>"$out/lab-peers-cells.csv"
                if [ "$rc" -ne 0 ]; then
                        progress "mode $mode, run $run: the lab run failed (status $rc); see $out/$mdir/lab-stdout.log"
                        lab_failed=1
                fi
                kill "$monitor" 2>/dev/null || true
                wait "$monitor" 2>/dev/null || true
                busy=$(awk '$2 > 1 { n++ } $2 - 1 > max { max = $2 - 1 } END { printf "%d of %d readings, up to %d", n, NR, max }' "$out/$mdir/qemu-count.txt")
                echo "mode $mode, run $run: other QEMU processes during the run: $busy" >>"$out/machine.txt"
                progress "mode $mode, run $run done in $((SECONDS - t_mode)) s; other QEMU processes on this machine during it: $busy"
        done
done
progress "all modes done in $((SECONDS - t_all)) s; other QEMU processes now: $(pgrep -c qemu-system || true)"

echo
rc=0
python3 "$here/lab-peers.py" report "$out" --seconds "$seconds" --scenarios "$scenarios" --modes "$modes" || rc=$?
echo
echo "The machine (QEMU processes other than this benchmark's lab; a quiet machine has none):"
sed 's/^/  /' "$out/machine.txt"
echo "CSV: $out/lab-peers.csv   tables: $out/lab-peers.md   plot: $out/lab-peers.svg"
if [ $lab_failed -ne 0 ]; then
        echo "lab-peers: a lab run failed; the results are incomplete"
        exit 2
fi
exit $rc
