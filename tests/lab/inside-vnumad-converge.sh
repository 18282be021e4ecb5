#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Inside a 2-node lab (1 CPU per node): a libvirt domain with 2 cells whose memory all starts
# on host node 0 (a plain QEMU under numactl --membind=0, RAM prealloc'd) and whose vCPUs are
# unpinned, running the NUMA-aware workload; a second, idle guest (libvirt) competes for node 0. vnumad (policy auto) must bring every cell to
# >= 95 % locality with its vCPUs pinned to its home node, then make no move for 10 periods.
# Then: guest RAM is bit-identical across moving 100 % of a cell, and a QEMU SIGKILLed in the
# middle of a migration is dropped while the other guest is still served.
set -euo pipefail
. "$LAB_DIR/scenario.sh"
. "$LAB_DIR/vnumad-scenario.sh"
trap 'vl_stop_daemon || true; scn_stop_all || true' EXIT
fails=0
check() { # description command...
        local what=$1
        shift
        if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}

scn_libvirt_start
scn_qemu_start conv --cells 2 --cell-mib 128 --vcpus-per-cell 1 --host-node 0 --prealloc \
        --workload "vnw.size=48M vnw.pattern=stream vnw.interval=2000"
scn_domain_start idle --cells 2 --cell-mib 160 --vcpus-per-cell 1 --host-node 0 --prealloc
# idle's numatune would leave it observed only (libvirt XML pins win); its metadata hands it to
# vnumad's auto policy, as an operator would.
"$VNUMACTL" policy set idle mode=auto
scn_wait_progress conv 2 420
echo "--- before vnumad"
scn_measure conv idle

vl_start_daemon "[daemon]
period = 500ms
[policy]
mode = auto
migrate-rate = 256MiB"
t0=$SECONDS
if vl_wait_locality conv 0.95 240; then
        echo "converged: conv reached >= 95 % locality in every cell after $((SECONDS - t0)) s, $(vl_bytes_migrated) bytes migrated by vnumad"
        check "conv converged" true
else
        check "conv converged to >= 95 % locality within 240 s" false
fi
vl_cells conv
check "idle's cells are >= 95 % local too" vl_wait_locality idle 0.95 120
check "conv's vCPUs are pinned to their cells' home nodes" vl_vcpus_pinned_home conv

# No flapping: 10 more periods, no pin and no migration for either guest.
p0=$(vl_period)
while [ "$(vl_period)" -lt $((p0 + 10)) ]; do sleep 0.5; done
moves=$(( $(vl_moves_since conv "$p0") + $(vl_moves_since idle "$p0") ))
echo "moves in the 10 periods after convergence: $moves (expected 0)"
check "no flapping" test "$moves" -eq 0
echo "--- after vnumad"
vl_ctl show conv
vl_ctl explain conv | tail -12

# Guest memory is unchanged by moving 100 % of a cell: stop the guest, dump, move cell 0 to
# node 1 (strict), dump again.
scn_qmp_cmd conv '{"execute": "stop"}' >/dev/null
ram=$((256 << 20))
sha_before=$(vl_guest_ram_sha conv $ram)
vl_reconfigure "[daemon]
period = 500ms
[policy]
mode = auto
[vm conv]
mode = strict
nodes = 1"
deadline=$((SECONDS + 120))
while [ $SECONDS -lt $deadline ]; do
        on0=$(vl_cells conv | awk '{ split($5, b, "="); s += b[2] } END { print s + 0 }')
        [ "$on0" -lt $((4 << 20)) ] && break
        sleep 1
done
vl_cells conv
on0=$(vl_cells conv | awk '{ split($5, b, "="); s += b[2] } END { print s + 0 }')
echo "bytes of conv still on node 0 after strict nodes=1: $on0"
check "strict moved all of conv to node 1" test "$on0" -lt $((4 << 20))
sha_after=$(vl_guest_ram_sha conv $ram)
echo "guest RAM sha256 before $sha_before after $sha_after"
check "guest RAM identical across the move" test -n "$sha_before" -a "$sha_before" = "$sha_after"
scn_qmp_cmd conv '{"execute": "cont"}' >/dev/null

# SIGKILL mid-migration: a slow move back to node 0, then kill -9 the QEMU.
vl_reconfigure "[daemon]
period = 500ms
[policy]
mode = auto
[vm conv]
mode = strict
nodes = 0
migrate-rate = 16MiB"
scn_wait_for 30 grep -q 'VM conv: .*migrate' "$VL_LOG" || true
qpid=$(vl_ctl --json status | python3 -c 'import json,sys; print([v["pid"] for v in json.load(sys.stdin)["vms"] if v["name"] == "conv"][0])')
kill -9 "$qpid"
echo "killed conv's QEMU (pid $qpid) during its migration"
check "vnumad logs the dropped VM" scn_wait_for 20 grep -Eq "VM conv: (QEMU pid [0-9]+ is gone|QEMU exited)" "$VL_LOG"
check "vnumad is still running" kill -0 "$VL_PID"
check "vnumad still serves idle" sh -c "'$VNUMACTL' --socket '$VL_SOCK' --json status | python3 -c 'import json,sys; v=[x[\"name\"] for x in json.load(sys.stdin)[\"vms\"]]; sys.exit(v != [\"idle\"])'"
p1=$(vl_period)
sleep 3
check "periods keep running" test "$(vl_period)" -gt "$p1"

echo "--- vnumad log (last lines)"
tail -15 "$VL_LOG"
[ $fails -eq 0 ] || { echo "FAIL: $fails checks failed"; exit 1; }
echo "PASS: vnumad converged, held still, kept guest RAM intact and survived a killed guest"
