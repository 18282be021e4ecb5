# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# vnumad helpers for lab tests and the demo, sourced INSIDE a lab after contrib/lab/scenario.sh.
#   vl_start_daemon CONFIG-TEXT      vnumad on the scenario's QMP directory, log in $VL_LOG
#   vl_reconfigure CONFIG-TEXT       rewrite the config and SIGHUP
#   vl_ctl ARGS...                   vnumactl against that daemon
#   vl_cells NAME                    "cell home locality bytes_on_node..." lines, from the daemon
#                                    (vnumad's word: tests judge by tests/lab/truth.py)
#   vl_moves_since NAME PERIOD       pin/migrate actions after PERIOD (explain)

VL_DIR=/run/vnumad-lab
VL_SOCK=$VL_DIR/vnumad.sock
VL_CONF=$VL_DIR/vnumad.conf
VL_LOG=$VL_DIR/vnumad.log
VNUMAD=${VNUMAD:-$VNUMA_BUILD_ROOT/src/vnumad}
VNUMACTL=${VNUMACTL:-$VNUMA_BUILD_ROOT/src/vnumactl}

vl_start_daemon() { # config text
        mkdir -p "$VL_DIR"
        printf '%s\n' "$1" >"$VL_CONF"
        "$VNUMAD" --foreground --config "$VL_CONF" --socket "$VL_SOCK" --qmp-dir "$SCN_QMP_DIR" \
                --log-level debug >"$VL_LOG" 2>&1 &
        VL_PID=$!
        scn_wait_for 20 test -S "$VL_SOCK" || { tail -20 "$VL_LOG"; scn_err "vnumad did not start"; return; }
        scn_log "vnumad running (pid $VL_PID)"
}

vl_reconfigure() { # config text
        printf '%s\n' "$1" >"$VL_CONF"
        kill -HUP "$VL_PID"
        scn_wait_for 10 grep -q "Configuration reloaded" "$VL_LOG" || scn_err "vnumad did not reload"
}

vl_ctl() {
        "$VNUMACTL" --socket "$VL_SOCK" "$@"
}

vl_stop_daemon() {
        [ -n "${VL_PID:-}" ] && kill "$VL_PID" 2>/dev/null && wait "$VL_PID" 2>/dev/null
        VL_PID=
}

# One line per cell: id home locality present node<N>=bytes...
vl_cells() { # name
        vl_ctl --json show "$1" | python3 -c '
import json, sys
doc = json.load(sys.stdin)
for d in doc["domains"]:
    for g in d["guest_nodes"]:
        loc = g["locality_ratio"]
        print(g["id"], g["home_node"], "-" if loc is None else "%.4f" % loc, g["present_bytes"],
              " ".join("node%s=%d" % kv for kv in sorted(g["host_bytes"].items())))
'
}

vl_period() {
        vl_ctl --json status | python3 -c 'import json, sys; print(json.load(sys.stdin)["period"])'
}

vl_bytes_migrated() {
        vl_ctl --json status | python3 -c 'import json, sys; print(json.load(sys.stdin)["bytes_migrated"])'
}

# Pins and migrations applied to NAME after period P.
vl_moves_since() { # name period
        vl_ctl --json explain "$1" | python3 -c '
import json, sys
p = int(sys.argv[1])
n = [a for a in json.load(sys.stdin)["actions"]
     if a["period"] > p and a["type"] in ("migrate", "pin-vcpus", "pin-emulator")]
for a in n:
    print("  period %d: %s" % (a["period"], a["text"]), file=sys.stderr)
print(len(n))
' "$2"
}

# sha256 of a stopped guest's whole RAM, dumped with QMP pmemsave.
vl_guest_ram_sha() { # name bytes
        local f=$VL_DIR/$1.ram
        rm -f "$f"
        scn_qmp_cmd "$1" "{\"execute\": \"pmemsave\", \"arguments\": {\"val\": 0, \"size\": $2, \"filename\": \"$f\"}}" >/dev/null ||
                return
        sha256sum "$f" | cut -d' ' -f1
        rm -f "$f"
}

# One timeline line from vnumad's own per-period bookkeeping (cheap: no RAM scan), and
# whether every VM is at least MIN local.
vl_status_line() { # seconds
        vl_ctl --json status | python3 -c '
import json, sys
st = json.load(sys.stdin)
vms = "   ".join("%s %5s%%" % (v["name"], "-" if v["locality_ratio"] is None else "%.1f" % (100 * v["locality_ratio"]))
                 for v in st["vms"])
print("t=%4ss  period %4d   %s   migrated %d MiB" % (sys.argv[1], st["period"], vms, st["bytes_migrated"] >> 20))
' "$1"
}

vl_all_local() { # min [vm names that must be managed...]
        vl_ctl --json status | python3 -c '
import json, sys
vms = json.load(sys.stdin)["vms"]
missing = set(sys.argv[2:]) - {v["name"] for v in vms}
sys.exit(0 if vms and not missing and
         all(v["locality_ratio"] is not None and v["locality_ratio"] >= float(sys.argv[1]) for v in vms) else 1)
' "$@"
}

vl_wait_managed() { # seconds names...
        local t=$1
        shift
        scn_wait_for "$t" vl_ctl_manages "$@" || scn_err "vnumad does not manage all of: $*"
}

vl_ctl_manages() { # names...
        vl_ctl --json status 2>/dev/null | python3 -c '
import json, sys
names = {v["name"] for v in json.load(sys.stdin)["vms"]}
sys.exit(0 if set(sys.argv[1:]) <= names else 1)
' "$@"
}

# Misplaces a guest on purpose: pins all of its vCPU threads to CPUS (like a stale vcpupin).
vl_pin_vcpus() { # name cpus
        local tid
        for tid in $(scn_measure "$1" -- --json | python3 -c '
import json, sys
for d in json.load(sys.stdin)["domains"]:
    for v in d["vcpus"]:
        print(v["tid"])'); do
                taskset -pc "$2" "$tid" >/dev/null || scn_err "taskset -pc $2 $tid failed" || return
        done
        scn_log "pinned the vCPUs of $1 to CPUs $2"
}

# --- libvirt domains, through vnumad's own libvirt connection -------------------------------
#   vl_start_daemon_libvirt CONFIG-TEXT [VNUMAD OPTION...]
#                                    vnumad managing qemu:///system's domains, no QMP
#                                    directory (a domain's extra QMP socket stays the test's)
#   vl_vm_status NAME                that VM's object of `vnumactl status --json`
#   vl_virsh_vcpus_pinned_home NAME  `virsh vcpupin NAME` == CPUs of each vCPU's home node

vl_start_daemon_libvirt() { # config text, vnumad options...
        local conf=$1
        shift
        mkdir -p "$VL_DIR"
        printf '%s\n' "$conf" >"$VL_CONF"
        "$VNUMAD" --foreground --config "$VL_CONF" --socket "$VL_SOCK" --libvirt-uri qemu:///system \
                --log-level debug "$@" >"$VL_LOG" 2>&1 &
        VL_PID=$!
        scn_wait_for 20 test -S "$VL_SOCK" || { tail -20 "$VL_LOG"; scn_err "vnumad did not start"; return; }
        scn_log "vnumad running on qemu:///system (pid $VL_PID, options: $*)"
}

vl_vm_status() { # name
        vl_ctl --json status | python3 -c '
import json, sys
vms = [v for v in json.load(sys.stdin)["vms"] if v["name"] == sys.argv[1]]
if not vms:
    sys.exit("vnumad does not manage %s" % sys.argv[1])
print(json.dumps(vms[0]))
' "$1"
}

# libvirt's own view of the pins must be exactly the CPUs of each vCPU's cell's home node,
# as vnumad reports the homes and the host nodes' CPUs.
vl_virsh_vcpus_pinned_home() { # name
        local pins
        pins=$(virsh -q vcpupin "$1") || return
        vl_ctl --json show "$1" | python3 -c '
import json, sys

def cpus(text):
    out = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out

doc = json.load(sys.stdin)
node_cpus = {str(n["id"]): cpus(n["cpus"]) for n in doc["host"]["nodes"]}
virsh = {}
for line in sys.argv[1].splitlines():
    words = line.split()
    if len(words) == 2 and words[0].isdigit():
        virsh[int(words[0])] = words[1]
ok = True
for d in doc["domains"]:
    home = {g["id"]: g["home_node"] for g in d["guest_nodes"]}
    for v in d["vcpus"]:
        h = home[v["guest_node"]]
        want = node_cpus.get(str(h))
        got = virsh.get(v["index"])
        good = got is not None and want is not None and cpus(got) == want
        print("vcpu %d (cell %d, home node %s): virsh vcpupin %s, node CPUs %s%s" %
              (v["index"], v["guest_node"], h, got, ",".join(map(str, sorted(want or []))),
               "" if good else "  <-- wrong"))
        ok = ok and good
    ok = ok and len(d["vcpus"]) == len(virsh)
sys.exit(0 if ok and doc["domains"] else 1)
' "$pins"
}
