#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Inside a 2-node lab (1 CPU per node): a libvirt-managed 2-cell TCG domain running the
# workload, all of its RAM on host node 0 (numatune restrictive nodeset 0 at start, RAM
# prealloc'd, nodeset widened live) and its vCPUs pinned with `virsh vcpupin` to the wrong
# nodes. Its policy lives in its libvirt metadata, written by `vnumactl policy set`:
# mode auto, cell 0 on node 0 and cell 1 on node 1. vnumad, connected to qemu:///system only,
# must take the policy from the metadata and bring every cell to >= 95 % locality on its
# node, with the pins visible to libvirt (virsh vcpupin, the vCPU cgroups) and the domain
# XML still valid.
#
# The kernel's NUMA balancing is switched off in the lab: with it, the wrongly pinned vCPUs
# drag pages across nodes before vnumad starts, so the start would not be the one set up
# and the pages moved would not all be vnumad's.
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
dom=conv
. "$here/checks.sh"
trap 'vl_stop_daemon || true; scn_stop_all || true; virsh -q undefine "$dom" >/dev/null 2>&1 || true' EXIT

# The daemon's per-cell view: both cells homed on their policy node (cell i -> node i) and
# >= 95 % local there.
cells_local_on_policy_nodes() {
        vl_ctl --json show "$dom" | python3 -c '
import json, sys
gs = json.load(sys.stdin)["domains"][0]["guest_nodes"]
for g in gs:
    print("  cell %d: home node %s, locality %s" % (g["id"], g["home_node"], g["locality_ratio"]))
sys.exit(0 if len(gs) == 2 and all(g["home_node"] == g["id"] and (g["locality_ratio"] or 0) >= 0.95
                                   for g in gs) else 1)'
}

t_start=$SECONDS
[ "$(cat /sys/devices/system/node/online)" = 0-1 ] || die "the lab does not have nodes 0-1"
cpus0=$(cat /sys/devices/system/node/node0/cpulist)
cpus1=$(cat /sys/devices/system/node/node1/cpulist)
if [ -w /proc/sys/kernel/numa_balancing ]; then
        echo 0 >/proc/sys/kernel/numa_balancing
fi
echo "host: node 0 CPUs $cpus0, node 1 CPUs $cpus1, numa_balancing $(cat /proc/sys/kernel/numa_balancing 2>/dev/null || echo absent)"

scn_libvirt_start
scn_domain_start "$dom" --cells 2 --cell-mib 128 --vcpus-per-cell 1 --host-node 0 --prealloc \
        --workload "vnw.size=48M vnw.pattern=stream vnw.interval=2000"

# The policy, in the domain's libvirt metadata.
"$VNUMACTL" policy set "$dom" mode=auto pin=vcpus migrate-rate=256MiB cell=0:0 cell=1:1 ||
        die "vnumactl policy set failed"
meta=$(virsh metadata "$dom" urn:x-vnumad:policy:1) || die "virsh metadata finds no vnumad policy"
echo "metadata: $(tr -s ' \n' ' ' <<<"$meta")"
"$VNUMACTL" --json policy get "$dom" >"$SCN_STATE/policy-get.json" || die "vnumactl policy get $dom failed"
python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
p = o.get("policy") or {}
cells = {str(c.get("id")): str(c.get("nodes")) for c in (p.get("cells") or [])}
print("vnumactl policy get: source %s, mode %s, cells %s, error %s" % (o.get("source"), p.get("mode"), cells, o.get("error")))
sys.exit(0 if o.get("source") == "metadata" and p.get("mode") == "auto" and not o.get("error")
         and cells == {"0": "0", "1": "1"} else 1)' "$SCN_STATE/policy-get.json" ||
        die "vnumactl policy get does not read back the policy just set"

# The vCPUs on the wrong nodes, as a stale hand-written vcpupin would leave them.
virsh -q vcpupin "$dom" 0 "$cpus1" || die "virsh vcpupin $dom 0 $cpus1 failed"
virsh -q vcpupin "$dom" 1 "$cpus0" || die "virsh vcpupin $dom 1 $cpus0 failed"
virsh vcpupin "$dom"
virsh dumpxml "$dom" | xmllint --noout - || die "the domain XML is not well-formed before vnumad runs"

scn_wait_progress "$dom" 2 240 || die "the guest's workload never ran on both guest nodes"
echo "the guest workload runs ($((SECONDS - t_start)) s into the lab): $(tr -d '\r' <"$SCN_STATE/$dom.serial" | grep '^vnw: t=' | tail -1)"

# Before: measured from outside through the domain's extra QMP socket (which also gives the
# address map: cell HVA ranges, vCPU threads), checked against numa_maps (all RAM present and on
# node 0), then what must move for each cell to be 95 % on its policy node (cell i -> node i).
echo "--- before vnumad"
scn_measure "$dom"
map=$SCN_STATE/map.json
scn_measure "$dom" -- --json >"$map"
python3 "$here/check-placement.py" 2 0 "$dom" <"$map" ||
        die "the domain's memory does not start all on host node 0"
truth_snapshot "$map" "$SCN_STATE/before.json" "$dom" || die "cannot read the numa_maps of $dom"
truth on-node "$SCN_STATE/before.json" 0 "$dom" || die "precondition: expected all of $dom's RAM on node 0 (numa_maps)"
truth pinned "$SCN_STATE/before.json" "$dom" --homes 1,0 ||
        die "precondition: expected vCPU 0 on node 1's CPUs and vCPU 1 on node 0's (Cpus_allowed_list)"
mv=$(truth moved "$SCN_STATE/before.json" "$SCN_STATE/before.json" "$dom" --homes 0,1) || die "truth.py moved failed"
read -r _ need <<<"$mv"
echo "bytes that must move to reach 95 % in every cell: at least $need"
[ "$need" -gt $((64 << 20)) ] || die "the start is not misplaced enough to prove anything ($need bytes to move)"

# vnumad, on qemu:///system only (no QMP directory), 1 s periods.
vl_start_daemon_libvirt "[policy]
mode = observe" --period 1000
t0=$SECONDS
converged=0
while [ $((SECONDS - t0)) -lt 240 ]; do
        line=$(vl_ctl --json status 2>/dev/null | python3 -c '
import json, sys
st = json.load(sys.stdin)
v = [x for x in st["vms"] if x["name"] == sys.argv[1]]
if not v:
    print("none -"); sys.exit()
v = v[0]
r = v.get("locality_ratio")
print("%s %s period=%d source=%s migrated=%dMiB" % ("-" if r is None else "%.4f" % r, v["policy"].get("source"),
      st.get("period", -1), v.get("source"), (v.get("bytes_migrated") or 0) >> 20))
' "$dom" 2>/dev/null || echo "- -")
        echo "t=$((SECONDS - t0))s locality $line"
        ratio=${line%% *}
        if [ "$ratio" != - ] && [ "$ratio" != none ] && awk -v r="$ratio" 'BEGIN { exit !(r >= 0.95) }'; then
                # Every cell, on its policy node, from the daemon's per-cell view.
                if cells_local_on_policy_nodes >/dev/null; then
                        converged=1
                        break
                fi
        fi
        kill -0 "$VL_PID" 2>/dev/null || die "vnumad exited"
        sleep 1
done
t_conv=$((SECONDS - t0))
st=$(vl_vm_status "$dom") || die "vnumad does not manage $dom"
migrated=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1]).get("bytes_migrated") or 0)' "$st")
if [ $converged -eq 1 ]; then
        echo "converged: every cell of $dom >= 95 % local on its policy node after $t_conv s, $migrated bytes ($((migrated >> 20)) MiB) migrated by vnumad"
else
        echo "not converged after $t_conv s ($migrated bytes migrated)"
fi
check "every cell >= 95 % local within 240 s" test $converged -eq 1

echo "--- after vnumad"
vl_ctl show "$dom"
vl_cells "$dom"
check "per cell (vnumactl show --json): home node = policy node, locality >= 95 %" cells_local_on_policy_nodes

# The kernel's word, not vnumad's: numa_maps of each cell's RAM, bytes on the cell's policy
# node over all its bytes; each vCPU thread's Cpus_allowed_list.
truth_snapshot "$map" "$SCN_STATE/after.json" "$dom" || die "cannot read the numa_maps of $dom"
check "numa_maps: both cells present, every cell >= 95 % on its policy node" \
        truth local "$SCN_STATE/after.json" 0.95 "$dom" --homes 0,1
check "Cpus_allowed_list: vCPU 0 on node 0's CPUs, vCPU 1 on node 1's" \
        truth pinned "$SCN_STATE/after.json" "$dom" --homes 0,1
mv=$(truth moved "$SCN_STATE/before.json" "$SCN_STATE/after.json" "$dom" --homes 0,1) || die "truth.py moved failed"
read -r moved _ <<<"$mv"
check "numa_maps: the bytes that had to move did (expected >= $need, saw $moved arrive)" test "$moved" -ge "$need"

check "libvirt's pins (virsh vcpupin) are the home nodes' CPUs" vl_virsh_vcpus_pinned_home "$dom"
pins=$(virsh -q vcpupin "$dom" | awk 'NF == 2 { printf "%s:%s ", $1, $2 }')
echo "virsh vcpupin $dom: $pins(policy: vCPU 0 -> node 0 CPUs $cpus0, vCPU 1 -> node 1 CPUs $cpus1)"
check "virsh vcpupin: vCPU 0 on node 0's CPUs, vCPU 1 on node 1's" test "$pins" = "0:$cpus0 1:$cpus1 "
# Each vCPU thread's own cpuset cgroup (/proc/TID/cgroup; v1 or v2): cpus and effective cpus.
check "the vCPU cgroups carry the pins" truth cgroup-pinned "$SCN_STATE/after.json" "$dom" --homes 0,1

xml=$SCN_STATE/$dom.live.xml
virsh dumpxml "$dom" >"$xml" || die "virsh dumpxml $dom failed"
check "virsh dumpxml | xmllint --noout - (well-formed)" sh -c "virsh dumpxml '$dom' | xmllint --noout -"
check "virsh dumpxml passes libvirt's domain schema (virt-xml-validate)" virt-xml-validate "$xml" domain
virsh dumpxml --inactive "$dom" >"$SCN_STATE/$dom.inactive.xml" || die "virsh dumpxml --inactive $dom failed"
check "the persistent XML (dumpxml --inactive) passes the schema too" \
        virt-xml-validate "$SCN_STATE/$dom.inactive.xml" domain
check "virsh dumpxml carries the vnumad policy metadata (cell 0 -> 0, cell 1 -> 1)" python3 - "$xml" <<'PY'
import sys
import xml.etree.ElementTree as ET
ns = "{urn:x-vnumad:policy:1}"
p = ET.parse(sys.argv[1]).getroot().find("metadata/" + ns + "policy")
if p is None:
    sys.exit("no <policy> of urn:x-vnumad:policy:1 in <metadata>")
print("  metadata:", ET.tostring(p, encoding="unicode").strip().replace("\n", " "))
cells = {c.get("id"): c.get("nodes") for c in p.findall(ns + "cell")}
sys.exit(0 if p.get("mode") == "auto" and cells == {"0": "0", "1": "1"} else 1)
PY

st=$(vl_vm_status "$dom")
echo "vnumad's view of $dom: $(python3 -c 'import json, sys; v = json.loads(sys.argv[1]); print(json.dumps({k: v.get(k) for k in ("source", "uuid", "cells", "vcpus", "policy", "locality_ratio", "bytes_migrated")}))' "$st")"
check "policy source is the metadata, mode auto, no error, cell 0 -> 0 and cell 1 -> 1" python3 -c '
import json, sys
p = json.loads(sys.argv[1])["policy"]
cells = {str(c.get("id")): str(c.get("nodes")) for c in (p.get("cells") or [])}
sys.exit(0 if p.get("source") == "metadata" and p.get("mode") == "auto" and not p.get("error")
         and cells == {"0": "0", "1": "1"} else 1)' "$st"
check "the VM is libvirt's, with the domain's UUID" python3 -c '
import json, sys
v = json.loads(sys.argv[1])
sys.exit(0 if v.get("source") == "libvirt" and v.get("uuid") == sys.argv[2] else 1)' "$st" "$(virsh domuuid "$dom" | tr -d '[:space:]')"
echo "bytes migrated by vnumad for $dom: $migrated (at least $need needed from the start measured)"
check "vnumad moved the pages (bytes_migrated >= 90 % of what had to move)" \
        test "$migrated" -ge $((need * 9 / 10))
check "the domain still runs" test "$(virsh domstate "$dom")" = running
n1=$(tr -d '\r' <"$SCN_STATE/$dom.serial" | grep -c '^vnw: t=' || true)
sleep 5
n2=$(tr -d '\r' <"$SCN_STATE/$dom.serial" | grep -c '^vnw: t=' || true)
check "the guest workload still reports progress ($n1 -> $n2 lines)" test "$n2" -gt "$n1"
check "vnumad is still running" kill -0 "$VL_PID"

echo "--- vnumad log (all but debug lines, last 30)"
grep -v '^<7>' "$VL_LOG" | tail -30 || true
echo "time to converge: $t_conv s; bytes migrated: $migrated; lab time so far: $((SECONDS - t_start)) s"
checks_end "the libvirt domain converged under its metadata policy in $t_conv s ($((migrated >> 20)) MiB migrated), pins visible to libvirt, XML valid"
