#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The soak (issue 13): vnumad for SOAK_SECONDS (default 3600) on a 2-node lab while guests come
# and go. Every cycle (SOAK_CYCLE seconds, default 60) a guest starts, alternately a libvirt
# domain and a plain QEMU on vnumad's QMP directory, all of its RAM on node 0, and the default
# policy (strict on node 1, 32 MiB/s) makes vnumad migrate all of it; every third new guest is
# killed as soon as vnumad has started moving it (mid-migration, judged from numa_maps), and the
# oldest guest goes once three run. libvirtd is restarted at a third and at two thirds.
#
# Every 5 minutes a line: vnumad's open fds and RSS (/proc, not vnumad's word), its period and
# the VMs it manages. Passes when vnumad lived through it, answered `vnumactl status` within 1 s
# at the end, manages a fresh guest of each kind after the libvirtd restarts, forgot every guest
# that went, holds no more fds without guests than at the start, and its RSS after the warm-up
# (the first sample at or after 5 minutes) grew by at most a quarter plus 2 MiB.
#
# Not part of CI: `meson test -C build --suite lab-soak` (SOAK_SECONDS=600 for a short one).
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
. "$here/checks.sh"

soak=${SOAK_SECONDS:-3600}
cycle=${SOAK_CYCLE:-60}
sample_every=300
[[ $soak =~ ^[0-9]+$ && $soak -ge 300 ]] || die "SOAK_SECONDS must be a number >= 300, not '$soak'"
[[ $cycle =~ ^[0-9]+$ && $cycle -ge 20 ]] || die "SOAK_CYCLE must be a number >= 20, not '$cycle'"

plain_dir=$SCN_STATE/qmp-plain
live=() # names of running guests, oldest first
started=0 killed=0 mid=0 restarts=0
trap 'vl_stop_daemon || true; scn_stop_all || true' EXIT

[ "$(cat /sys/devices/system/node/online)" = 0-1 ] || die "the lab does not have nodes 0-1"
[ -w /proc/sys/kernel/numa_balancing ] && echo 0 >/proc/sys/kernel/numa_balancing

# A guest's pages on node 1 and in all (numa_maps of its QEMU, every mapping).
guest_pid() { # name
        if [ -f "$SCN_STATE/$1.pid" ]; then
                cat "$SCN_STATE/$1.pid"
        else
                cat "/run/libvirt/qemu/$1.pid" 2>/dev/null
        fi
}

node1_share() { # name -> "N1 TOTAL" pages of anonymous/backing memory
        local pid
        pid=$(guest_pid "$1") || return
        awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^N[0-9]+=/) { split($i, kv, "="); t += kv[2]; if (kv[1] == "N1") n += kv[2] } }
             END { print n + 0, t + 0 }' "/proc/$pid/numa_maps"
}

start_guest() { # name kind
        if [ "$2" = libvirt ]; then
                scn_domain_start "$1" --cells 2 --cell-mib 128 --host-node 0 --prealloc || return
        else
                (SCN_QMP_DIR=$plain_dir && scn_qemu_start "$1" --cells 2 --cell-mib 128 --host-node 0 --prealloc) || return
        fi
        live+=("$1")
        started=$((started + 1))
}

kill_guest() { # name
        if [ -f "$SCN_STATE/$1.pid" ]; then
                kill "$(cat "$SCN_STATE/$1.pid")" 2>/dev/null || true
                rm -f "$SCN_STATE/$1.pid"
        else
                virsh -q destroy "$1" >/dev/null 2>&1 || true
                virsh -q undefine "$1" >/dev/null 2>&1 || true
        fi
        local kept=() g
        for g in "${live[@]}"; do
                [ "$g" = "$1" ] || kept+=("$g")
        done
        live=("${kept[@]}")
        killed=$((killed + 1))
}

# Kills NAME once some but not all of its pages are on node 1: vnumad is mid-migration.
kill_mid_migration() { # name
        local deadline=$((SECONDS + 60)) n t
        while [ $SECONDS -lt $deadline ]; do
                read -r n t <<<"$(node1_share "$1" || echo "0 0")"
                if [ "$n" -gt 0 ] && [ "$n" -lt "$t" ]; then
                        kill_guest "$1"
                        mid=$((mid + 1))
                        echo "soak: killed $1 mid-migration ($n of $t pages on node 1)"
                        return 0
                fi
                sleep 0.2
        done
        echo "soak: $1 was not caught mid-migration ($n of $t pages on node 1); killed anyway"
        kill_guest "$1"
}

restart_libvirtd() {
        pkill -x libvirtd || true
        scn_wait_for 30 not pgrep -x libvirtd || die "libvirtd did not stop"
        libvirtd -d || die "libvirtd did not restart"
        scn_wait_for 120 virsh -c qemu:///system version || die "libvirtd does not answer after a restart"
        restarts=$((restarts + 1))
        echo "soak: libvirtd restarted ($restarts)"
}

fds() { ls "/proc/$VL_PID/fd" | wc -l; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$VL_PID/status"; }
managed() { vl_ctl --json status | python3 -c 'import json, sys; print(" ".join(sorted(v["name"] for v in json.load(sys.stdin)["vms"])) or "-")'; }

sample() { # t
        echo "soak: t=$1s fds=$(fds) rss_kib=$(rss_kib) period=$(vl_period) live=${#live[@]} managed=$(managed) started=$started killed=$killed mid_migration=$mid libvirtd_restarts=$restarts"
}

mkdir -p "$plain_dir"
scn_libvirt_start
vl_start_daemon_libvirt "[daemon]
period = 1s

[policy]
mode = strict
nodes = 1
migrate-rate = 32MiB" --qmp-dir "$plain_dir" --log-level info
scn_wait_for 20 vl_period || die "vnumad does not answer"
fds0=$(fds)
echo "soak: $soak s, a guest every $cycle s; vnumad pid $VL_PID, $fds0 fds and $(rss_kib) KiB RSS without guests"

t0=$SECONDS next_sample=0 n=0 rss_warm= series=()
while [ $((SECONDS - t0)) -lt "$soak" ]; do
        t=$((SECONDS - t0))
        kill -0 "$VL_PID" 2>/dev/null || die "vnumad exited at t=${t}s: $(tail -5 "$VL_LOG")"
        if [ "$t" -ge "$next_sample" ]; then
                line=$(sample "$t")
                echo "$line"
                series+=("$line")
                [ -z "$rss_warm" ] && [ "$t" -ge $sample_every ] && rss_warm=$(rss_kib)
                next_sample=$((next_sample + sample_every))
        fi
        if [ "$t" -ge $(((restarts + 1) * soak / 3)) ] && [ "$restarts" -lt 2 ]; then
                restart_libvirtd
        fi
        n=$((n + 1))
        kind=qemu
        [ $((n % 2)) -eq 0 ] && kind=libvirt
        start_guest "soak$n" "$kind" || die "guest soak$n ($kind) did not start"
        if [ $((n % 3)) -eq 0 ]; then
                kill_mid_migration "soak$n"
        fi
        while [ "${#live[@]}" -gt 2 ]; do
                kill_guest "${live[0]}"
        done
        sleep $((cycle - (SECONDS - t0 - t) % cycle))
done

echo "--- after $((SECONDS - t0)) s"
# Fresh guests of both kinds after the libvirtd restarts: vnumad must pick both up.
start_guest soak-last-qemu qemu || die "the last plain QEMU did not start"
start_guest soak-last-libvirt libvirt || die "the last libvirt domain did not start"
check "vnumad manages a fresh plain QEMU and a fresh libvirt domain after $restarts libvirtd restarts" \
        scn_wait_for 60 vl_ctl_manages soak-last-qemu soak-last-libvirt
t_status=$(date +%s%N)
vl_ctl status >/dev/null || die "vnumactl status failed"
ms=$((($(date +%s%N) - t_status) / 1000000))
check "vnumactl status answered within 1 s (took $ms ms)" test "$ms" -lt 1000
line=$(sample "$((SECONDS - t0))")
echo "$line"
series+=("$line")
rss_end=$(rss_kib)

for g in "${live[@]}"; do
        kill_guest "$g"
done
check "vnumad forgot every guest that went" scn_wait_for 30 test "$(managed)" = -
fds_end=$(fds)
echo "soak: fds without guests: $fds0 at the start, $fds_end at the end"
check "no more fds without guests than at the start ($fds0 -> $fds_end)" test "$fds_end" -le "$fds0"
rss_warm=${rss_warm:-$rss_end}
limit=$((rss_warm + rss_warm / 4 + 2048))
check "RSS flat after the warm-up ($rss_warm KiB -> $rss_end KiB, limit $limit)" test "$rss_end" -le "$limit"
check "some guests were killed mid-migration ($mid)" test "$mid" -gt 0
check "libvirtd was restarted twice" test "$restarts" -eq 2
check "vnumad still runs" kill -0 "$VL_PID"
if grep -E "AddressSanitizer|runtime error:|LeakSanitizer" "$VL_LOG"; then
        die "a sanitizer report in vnumad's log"
fi
echo "--- the series (every $sample_every s)"
printf '%s\n' "${series[@]}"
checks_end "soak: $started guests started, $killed killed ($mid mid-migration), $restarts libvirtd restarts"
