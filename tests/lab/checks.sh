# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# Verdicts for the inside-*.sh lab scripts, sourced INSIDE a lab; brings in contrib/lab's
# scenario.sh and vnumad-scenario.sh too.
#   check DESCRIPTION COMMAND...     runs COMMAND, prints "ok: …" or "FAIL: …" and counts failures
#   not COMMAND...                   succeeds when COMMAND fails (a check that must not hold yet)
#   die MESSAGE                      a precondition failed: the log tail, exit 1
#   checks_end SUMMARY               exit 1 if any check failed, else print "PASS: SUMMARY"
#   truth ARGS...                    tests/lab/truth.py: numa_maps, Cpus_allowed_list, cgroups
#   truth_snapshot MAP OUT NAME...   truth.py snapshot of NAMEs into OUT, shown on stdout
#   first_touch_placement            from here, scn_qemu_start's `numactl --membind=N` binds the
#                                    QEMU's CPUs to node N instead: its prealloc'd RAM lands there
#                                    by first touch, and stays free to move (no memory policy)
#   wait_split MAP NAME SECONDS OUT  until the guest is split as the model wants it on a 1-CPU-
#                                    per-node lab (each cell >= 95 % on one node, the cells apart,
#                                    the vCPUs pinned there); the last snapshot in OUT, the seconds
#                                    taken in $t_conv; progress every 20 s; returns 1 on timeout
# The verdicts come from the kernel (truth.py), never from vnumad's replies alone.

# shellcheck source-path=SCRIPTDIR/../../contrib/lab
. "$LAB_DIR/scenario.sh"
. "$LAB_DIR/vnumad-scenario.sh"
CHECKS_DIR=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
fails=0

check() { # description command...
        local what=$1
        shift
        if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}

not() {
        ! "$@"
}

die() {
        echo "FAIL: $*"
        [ -f "${VL_LOG:-}" ] && { echo "--- vnumad log (last lines)"; tail -30 "$VL_LOG"; }
        exit 1
}

checks_end() { # summary
        if [ $fails -ne 0 ]; then
                echo "FAIL: $fails checks failed"
                exit 1
        fi
        echo "PASS: $*"
}

truth() {
        PYTHONDONTWRITEBYTECODE=1 python3 "$CHECKS_DIR/truth.py" "$@"
}

truth_snapshot() { # map out names...
        local map=$1 out=$2
        shift 2
        truth snapshot "$map" "$@" >"$out" || return
        truth show "$out"
}

first_touch_placement() {
        numactl() {
                if [[ ${1:-} == --membind=* ]]; then
                        command numactl --cpunodebind="${1#--membind=}" "${@:2}"
                else
                        command numactl "$@"
                fi
        }
}

wait_split() { # map name seconds out
        local map=$1 name=$2 limit=$3 out=$4 t0=$SECONDS
        while :; do
                truth snapshot "$map" "$name" >"$out" || die "cannot read numa_maps of $name"
                t_conv=$((SECONDS - t0))
                { truth local "$out" 0.95 "$name" && truth distinct "$out" "$name" && truth pinned "$out" "$name"; } \
                        >/dev/null && return 0
                [ $t_conv -ge "$limit" ] && return 1
                [ $((t_conv % 20)) -lt 2 ] && { echo "t=${t_conv}s"; truth show "$out"; }
                kill -0 "$VL_PID" 2>/dev/null || die "vnumad exited"
                sleep 1
        done
}
