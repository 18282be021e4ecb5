#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Inside a 2-node lab booted with systemd as PID 1 (`lab run --init systemd`): a plain QEMU in
# its own scope (systemd-run --scope), its RAM first-touched on node 0. Under strict on node 1
# vnumad must ask systemd (D-Bus SetUnitProperties) for AllowedMemoryNodes=1 and AllowedCPUs=
# node 1's CPUs on that scope, never move the QEMU out of it, and move its RAM to node 1; back
# under auto, both properties are lifted. Judged by systemctl, the scope's cgroup files,
# /proc/PID/cgroup and numa_maps, never by vnumad's word.
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
. "$here/checks.sh"
name=sd1
unit=vnumatest-$name
trap 'vl_stop_daemon || true; systemctl stop "$unit.scope" 2>/dev/null || true' EXIT

[ "$(readlink /proc/1/exe)" = /usr/lib/systemd/systemd ] || [ "$(readlink /proc/1/exe)" = /lib/systemd/systemd ] ||
        die "PID 1 is $(readlink /proc/1/exe), not systemd: run this lab with --init systemd"
[ "$(cat /sys/devices/system/node/online)" = 0-1 ] || die "the lab does not have nodes 0-1"
[ -w /proc/sys/kernel/numa_balancing ] && echo 0 >/proc/sys/kernel/numa_balancing
busctl --system status >/dev/null 2>&1 || die "no system bus (dbus.socket) in this lab"
cpus0=$(cat /sys/devices/system/node/node0/cpulist)
cpus1=$(cat /sys/devices/system/node/node1/cpulist)
echo "systemd $(systemctl --version | head -1 | awk '{ print $2 }') is PID 1; node 0 CPUs $cpus0, node 1 CPUs $cpus1"

# Properties and files of the scope, and where the QEMU is.
prop() { systemctl show -P "$1" "$unit.scope"; }
qemu_pid() { cat "$SCN_STATE/$name.pid"; }
qemu_cgroup() { sed -n 's/^0:://p' "/proc/$(qemu_pid)/cgroup"; }
scope_file() { cat "/sys/fs/cgroup$(qemu_cgroup)/$1" 2>/dev/null || echo "(no $1)"; }
mems_allowed() { awk '/^Mems_allowed_list:/ { print $2 }' "/proc/$(qemu_pid)/status"; }
state() {
        echo "  $unit.scope: AllowedMemoryNodes='$(prop AllowedMemoryNodes)' AllowedCPUs='$(prop AllowedCPUs)'" \
                "cpuset.mems.effective=$(scope_file cpuset.mems.effective) Mems_allowed_list=$(mems_allowed)" \
                "cgroup=$(qemu_cgroup)"
}
restricted_to_node1() { [ "$(prop AllowedMemoryNodes)" = 1 ] && [ "$(prop AllowedCPUs)" = "$cpus1" ]; }
lifted() { [ -z "$(prop AllowedMemoryNodes)" ] && [ -z "$(prop AllowedCPUs)" ]; }

mkdir -p "$SCN_STATE" "$SCN_QMP_DIR"
# shellcheck disable=SC2054 # commas belong to QEMU option values
args=(-name "$name,debug-threads=on" -machine q35 -accel tcg,thread=multi -cpu qemu64 -m 256M
        -smp 2,sockets=2,cores=1,threads=1 -display none -nodefaults -no-reboot
        -qmp "unix:$SCN_QMP_DIR/$name.sock,server=on,wait=off" -pidfile "$SCN_STATE/$name.pid" -daemonize
        -object memory-backend-ram,id=m0,size=128M,prealloc=on -numa node,nodeid=0,memdev=m0,cpus=0
        -object memory-backend-ram,id=m1,size=128M,prealloc=on -numa node,nodeid=1,memdev=m1,cpus=1)
# First touch on node 0: the QEMU starts on node 0's CPUs.
systemd-run --quiet --scope --unit="$unit" -- taskset -c "$cpus0" qemu-system-x86_64 "${args[@]}" ||
        die "systemd-run --scope of the QEMU failed"
scn_wait_for 60 test -S "$SCN_QMP_DIR/$name.sock" || die "the QEMU has no QMP socket"
echo "qemu $name" >>"$SCN_STATE/guests"
cg0=$(qemu_cgroup)
echo "QEMU pid $(qemu_pid) in $cg0"
[ "$cg0" = "/system.slice/$unit.scope" ] || die "the QEMU is not in its scope ($cg0)"

map=$SCN_STATE/map.json
scn_measure "$name" -- --json >"$map"
truth_snapshot "$map" "$SCN_STATE/before.json" "$name" || die "cannot read the numa_maps of $name"
truth on-node "$SCN_STATE/before.json" 0 "$name" || die "precondition: the guest's RAM is not all on node 0"
state

vl_start_daemon "[daemon]
period = 1s

[policy]
mode = observe

[vm $name]
mode = strict
nodes = 1"
vl_wait_managed 30 "$name"
check "strict: systemd has AllowedMemoryNodes=1 AllowedCPUs=$cpus1 on the scope" \
        scn_wait_for 60 restricted_to_node1
state
check "strict: the scope's cpuset.mems.effective is 1" test "$(scope_file cpuset.mems.effective)" = 1
check "strict: the QEMU's Mems_allowed_list is 1" test "$(mems_allowed)" = 1
check "strict: the QEMU is still in its scope" test "$(qemu_cgroup)" = "$cg0"
all_on_node1() {
        truth_snapshot "$map" "$SCN_STATE/after.json" "$name" >/dev/null &&
                truth local "$SCN_STATE/after.json" 0.99 "$name" --homes 1,1 >/dev/null
}
scn_wait_for 120 all_on_node1 || true
truth_snapshot "$map" "$SCN_STATE/after.json" "$name" || die "cannot read the numa_maps of $name"
check "strict: numa_maps: >= 99 % of each cell on node 1" truth local "$SCN_STATE/after.json" 0.99 "$name" --homes 1,1

vl_reconfigure "[daemon]
period = 1s

[policy]
mode = observe

[vm $name]
mode = auto"
check "auto: AllowedMemoryNodes= and AllowedCPUs= lifted" scn_wait_for 60 lifted
state
# Lifted, systemd may drop the scope's cpuset controller altogether (no cpuset files): the
# kernel's word is the process's own Mems_allowed_list.
check "auto: the QEMU's Mems_allowed_list is every node again" \
        test "$(mems_allowed)" = "$(cat /sys/devices/system/node/online)"
check "auto: the QEMU is still in its scope" test "$(qemu_cgroup)" = "$cg0"
check "the scope is still active (systemd did not lose it)" test "$(systemctl is-active "$unit.scope")" = active
checks_end "systemd scope: strict set AllowedMemoryNodes/AllowedCPUs over D-Bus, auto lifted them, the QEMU stayed in $cg0"
