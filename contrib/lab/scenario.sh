# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# Scenario helpers for lab tests and the demo. Source this INSIDE a lab (`lab run`): it
# starts libvirt, and guests placed on the wrong host nodes, on the lab's throwaway overlay
# root. Every function returns non-zero with a message on stderr when something fails.
#
#   scn_libvirt_start
#   scn_domain_start NAME [GUEST OPTIONS]    libvirt domain, type='qemu', numatune restrictive
#                                            on the wrong node, widened live afterwards
#   scn_qemu_start NAME [GUEST OPTIONS]      plain QEMU under numactl --membind=NODE
#   scn_qmp NAME                             the guest's QMP socket (for vnumactl show --qmp)
#   scn_measure NAME...                      vnumactl show --qmp ... --json (the project's reader)
#   scn_cells_by_node NAME                   per guest cell: bytes on each host node
#   scn_wait_progress NAME CELLS TIMEOUT     wait until the guest's workload reports progress
#                                            for every guest node
#   scn_stop_all
#
# Guest options:
#   --cells N (2)  --cell-mib MIB (128)  --vcpus-per-cell N (1)
#   --host-node N  host node holding all guest memory at start (0)
#   --workload "WORDS"  boot the lab kernel with the guest workload initramfs
#                       ($SCN_GUEST_INITRD); WORDS are extra kernel words such as
#                       "vnw.size=64M vnw.pattern=hot". Without it the guest sits in firmware.
#   --prealloc          fault all guest RAM in at start (QEMU prealloc), so placement is
#                       measurable at once
#   --backend KIND      (plain QEMU only) guest RAM per cell: ram (default), memfd-hugetlb
#                       (memory-backend-memfd,hugetlb=on, 2 MiB pages), memfd-hugetlb-1g (the
#                       same with 1 GiB pages; --cell-mib a multiple of 1024) or hugetlbfs
#                       (memory-backend-file on /dev/hugepages, mounted if it is not); the huge
#                       pages must be reserved on the host node first
#   --spin              (plain QEMU only) firmware that is one `jmp $` at the reset vector: vCPU 0
#                       is busy from the first instruction (the others wait for a SIPI that never
#                       comes), with no boot to wait for
#
# Environment: LAB_GUEST_KERNEL or LAB_KERNEL (set by lab run), SCN_GUEST_INITRD (lab guest-initrd output),
# VNUMACTL (default: vnumactl in $VNUMA_BUILD_ROOT/src or PATH).

SCN_STATE=/run/scenario
SCN_QMP_DIR=$SCN_STATE/qmp

scn_err() {
        echo "scenario: $*" >&2
        return 1
}

scn_log() {
        echo "scenario: $*" >&2
}

scn_vnumactl() {
        if [ -n "${VNUMACTL:-}" ]; then
                echo "$VNUMACTL"
        elif [ -n "${VNUMA_BUILD_ROOT:-}" ] && [ -x "$VNUMA_BUILD_ROOT/src/vnumactl" ]; then
                echo "$VNUMA_BUILD_ROOT/src/vnumactl"
        else
                command -v vnumactl || scn_err "no vnumactl: set VNUMACTL or VNUMA_BUILD_ROOT"
        fi
}

# Waits up to $1 seconds for "$2..." to succeed.
scn_wait_for() { # seconds command...
        local deadline=$((SECONDS + $1))
        shift
        until "$@" >/dev/null 2>&1; do
                [ $SECONDS -lt $deadline ] || return 1
                sleep 0.5
        done
}

scn_libvirt_start() {
        mkdir -p /var/lib/libvirt/qemu /var/log/libvirt/qemu /var/cache/libvirt /run/libvirt "$SCN_QMP_DIR"
        # The lab's root is an overlay: these edits never reach the build machine.
        # Nothing of the build machine autostarts, and QEMU runs as root so it can read the
        # lab's kernel and initramfs wherever the cache is.
        rm -f /etc/libvirt/qemu/autostart/*.xml /etc/libvirt/qemu/networks/autostart/*.xml
        cat >>/etc/libvirt/qemu.conf <<'EOF'
user = "root"
group = "root"
dynamic_ownership = 0
security_driver = "none"
EOF
        virtlogd -d || scn_err "virtlogd did not start" || return
        libvirtd -d || scn_err "libvirtd did not start" || return
        scn_wait_for 120 virsh -c qemu:///system version ||
                scn_err "libvirtd does not answer on qemu:///system" || return
        scn_log "libvirtd $(libvirtd --version | awk '{ print $NF }') is up"
}

# Parses guest options into scn_* variables.
scn_parse_guest() {
        scn_cells=2 scn_cell_mib=128 scn_vpc=1 scn_host_node=0 scn_workload="" scn_use_workload=0 scn_prealloc=0
        scn_spin=0 scn_backend=ram
        while [ $# -gt 0 ]; do
                case "$1" in
                --cells) scn_cells=$2; shift 2 ;;
                --cell-mib) scn_cell_mib=$2; shift 2 ;;
                --vcpus-per-cell) scn_vpc=$2; shift 2 ;;
                --host-node) scn_host_node=$2; shift 2 ;;
                --workload) scn_workload=$2; scn_use_workload=1; shift 2 ;;
                --prealloc) scn_prealloc=1; shift ;;
                --spin) scn_spin=1; shift ;;
                --backend) scn_backend=$2; shift 2 ;;
                *) scn_err "unknown guest option '$1'"; return ;;
                esac
        done
        [[ $scn_cells =~ ^[1-8]$ && $scn_cell_mib =~ ^[0-9]+$ && $scn_vpc =~ ^[1-8]$ && $scn_host_node =~ ^[0-9]+$ ]] ||
                scn_err "invalid guest options (cells $scn_cells, cell MiB $scn_cell_mib, vCPUs per cell $scn_vpc, host node $scn_host_node)" ||
                return
        case "$scn_backend" in ram | memfd-hugetlb | memfd-hugetlb-1g | hugetlbfs) ;; *) scn_err "unknown --backend '$scn_backend'"; return ;; esac
        [ $((scn_spin & scn_use_workload)) -eq 0 ] || scn_err "--spin and --workload exclude each other" || return
        if [ $scn_use_workload -eq 1 ]; then
                scn_kernel=${LAB_GUEST_KERNEL:-${LAB_KERNEL:-}}
                [ -r "$scn_kernel" ] || scn_err "--workload needs LAB_GUEST_KERNEL or LAB_KERNEL (set by lab run)" || return
                [ -r "${SCN_GUEST_INITRD:-}" ] ||
                        scn_err "--workload needs SCN_GUEST_INITRD (from: lab guest-initrd --workload PROGRAM)" || return
        fi
}

# Kernel command line of a guest that runs the workload.
scn_guest_append() {
        echo "console=ttyS0 quiet panic=-1 nokaslr $scn_workload"
}

scn_all_host_nodes() {
        cat /sys/devices/system/node/online
}

scn_domain_xml() { # name
        local name=$1 i vcpus=$((scn_cells * scn_vpc))
        cat <<EOF
<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>$name</name>
  <memory unit='MiB'>$((scn_cells * scn_cell_mib))</memory>
  <vcpu placement='static'>$vcpus</vcpu>
  <numatune>
    <memory mode='restrictive' nodeset='$scn_host_node'/>
  </numatune>
EOF
        echo "  <os>"
        echo "    <type arch='x86_64' machine='q35'>hvm</type>"
        if [ $scn_use_workload -eq 1 ]; then
                echo "    <kernel>$scn_kernel</kernel>"
                echo "    <initrd>$SCN_GUEST_INITRD</initrd>"
                echo "    <cmdline>$(scn_guest_append)</cmdline>"
        fi
        cat <<EOF
  </os>
  <cpu mode='custom' match='exact' check='none'>
    <model fallback='allow'>qemu64</model>
    <topology sockets='$scn_cells' dies='1' cores='$scn_vpc' threads='1'/>
    <numa>
EOF
        for ((i = 0; i < scn_cells; i++)); do
                echo "      <cell id='$i' cpus='$((i * scn_vpc))-$((i * scn_vpc + scn_vpc - 1))' memory='$scn_cell_mib' unit='MiB'/>"
        done
        cat <<EOF
    </numa>
  </cpu>
  <on_poweroff>destroy</on_poweroff>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='file'>
      <source path='$SCN_STATE/$name.serial'/>
    </serial>
    <memballoon model='none'/>
  </devices>
  <qemu:commandline>
    <qemu:arg value='-qmp'/>
    <qemu:arg value='unix:$SCN_QMP_DIR/$name.sock,server=on,wait=off'/>
  </qemu:commandline>
</domain>
EOF
}

# A libvirt domain whose memory all starts on --host-node (numatune restrictive), with
# vCPUs unpinned; then the nodeset is widened live to every host node, so an outside
# balancer may fix it. libvirt keeps the memory where it is.
scn_domain_start() { # name [guest options]
        local name=$1
        shift
        scn_parse_guest "$@" || return
        [ $scn_spin -eq 0 ] || scn_err "--spin is for plain QEMU guests (scn_qemu_start)" || return
        mkdir -p "$SCN_STATE" "$SCN_QMP_DIR"
        scn_domain_xml "$name" >"$SCN_STATE/$name.xml"
        virsh -q define "$SCN_STATE/$name.xml" >/dev/null || scn_err "virsh define $name failed" || return
        virsh -q start "$name" >/dev/null || scn_err "virsh start $name failed" || return
        scn_wait_for 60 test -S "$SCN_QMP_DIR/$name.sock" || scn_err "$name has no QMP socket" || return
        if [ $scn_prealloc -eq 1 ]; then
                scn_prealloc "$name" || return
        fi
        virsh -q numatune "$name" --nodeset "$(scn_all_host_nodes)" --live ||
                scn_err "widening numatune of $name failed" || return
        echo "libvirt $name" >>"$SCN_STATE/guests"
        scn_log "domain $name running: $scn_cells cells x $scn_cell_mib MiB, memory started on host node $scn_host_node, nodeset widened to $(scn_all_host_nodes)"
}

# A plain QEMU, all of whose memory is bound to --host-node by numactl --membind.
scn_qemu_start() { # name [guest options]
        local name=$1 i total vcpus
        shift
        scn_parse_guest "$@" || return
        mkdir -p "$SCN_STATE" "$SCN_QMP_DIR"
        total=$((scn_cells * scn_cell_mib))
        vcpus=$((scn_cells * scn_vpc))
        # shellcheck disable=SC2054 # commas belong to QEMU option values
        local -a args=(
                -name "$name,debug-threads=on" -machine q35 -accel tcg,thread=multi -cpu qemu64
                -m "${total}M" -smp "$vcpus,sockets=$scn_cells,cores=$scn_vpc,threads=1"
                -display none -nodefaults -no-reboot
                -serial "file:$SCN_STATE/$name.serial"
                -qmp "unix:$SCN_QMP_DIR/$name.sock,server=on,wait=off"
                -pidfile "$SCN_STATE/$name.pid" -daemonize
        )
        local prealloc=""
        [ $scn_prealloc -eq 1 ] && prealloc=",prealloc=on"
        local backend="memory-backend-ram"
        case "$scn_backend" in
        memfd-hugetlb) backend="memory-backend-memfd,hugetlb=on,hugetlbsize=2M" ;;
        memfd-hugetlb-1g) backend="memory-backend-memfd,hugetlb=on,hugetlbsize=1G" ;;
        hugetlbfs)
                mkdir -p /dev/hugepages && { mountpoint -q /dev/hugepages || mount -t hugetlbfs hugetlbfs /dev/hugepages; } ||
                        scn_err "cannot mount hugetlbfs on /dev/hugepages" || return
                backend="memory-backend-file,mem-path=/dev/hugepages"
                ;;
        esac
        for ((i = 0; i < scn_cells; i++)); do
                args+=(-object "$backend,id=m$i,size=${scn_cell_mib}M$prealloc"
                        -numa "node,nodeid=$i,memdev=m$i,cpus=$((i * scn_vpc))-$((i * scn_vpc + scn_vpc - 1))")
        done
        if [ $scn_use_workload -eq 1 ]; then
                args+=(-kernel "$scn_kernel" -initrd "$SCN_GUEST_INITRD" -append "$(scn_guest_append)")
        fi
        if [ $scn_spin -eq 1 ]; then
                # 64 KiB (QEMU's BIOS granule), mapped below 4 GiB: EB FE (jmp $) at 0xfff0 is
                # the reset vector.
                { head -c $((0xfff0)) /dev/zero; printf '\xeb\xfe'; head -c 14 /dev/zero; } >"$SCN_STATE/spin.bin" ||
                        scn_err "cannot write the spin firmware" || return
                args+=(-bios "$SCN_STATE/spin.bin")
        fi
        numactl --membind="$scn_host_node" qemu-system-x86_64 "${args[@]}" ||
                scn_err "plain QEMU $name did not start" || return
        scn_wait_for 60 test -S "$SCN_QMP_DIR/$name.sock" || scn_err "$name has no QMP socket" || return
        echo "qemu $name" >>"$SCN_STATE/guests"
        scn_log "plain QEMU $name running (pid $(cat "$SCN_STATE/$name.pid")): $scn_cells cells x $scn_cell_mib MiB, numactl --membind=$scn_host_node"
}

scn_qmp() { # name
        echo "$SCN_QMP_DIR/$1.sock"
}

# Sends one QMP command (JSON text) to a guest's extra QMP socket; prints the "return".
scn_qmp_cmd() { # name json
        python3 - "$(scn_qmp "$1")" "$2" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(300)
s.connect(sys.argv[1])
f = s.makefile("rw")
json.loads(f.readline())  # greeting
def call(cmd):
    f.write(json.dumps(cmd) + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r:
            return r["return"]
        if "error" in r:
            sys.exit("QMP error: %s" % r["error"].get("desc"))
call({"execute": "qmp_capabilities"})
print(json.dumps(call(json.loads(sys.argv[2]))))
PY
}

# Faults every memory backend of a guest in now (qom-set prealloc), so its pages land where
# the guest's memory policy and cpuset say, before anything else runs.
scn_prealloc() { # name
        local ids id
        ids=$(scn_qmp_cmd "$1" '{"execute": "query-memdev"}' |
                python3 -c 'import json, sys; print(" ".join(m["id"] for m in json.load(sys.stdin)))') || return
        for id in $ids; do
                scn_qmp_cmd "$1" "{\"execute\": \"qom-set\", \"arguments\": {\"path\": \"/objects/$id\", \"property\": \"prealloc\", \"value\": true}}" >/dev/null ||
                        scn_err "prealloc of $1's backend $id failed" || return
        done
}

# The project's own reader, from outside the guests.
scn_measure() { # name... (extra vnumactl options may follow --)
        local v
        local -a args=()
        v=$(scn_vnumactl) || return
        while [ $# -gt 0 ]; do
                [ "$1" = -- ] && { shift; break; }
                args+=(--qmp "$(scn_qmp "$1")")
                shift
        done
        "$v" show "${args[@]}" "$@"
}

# One line per guest cell of one guest: its size, bytes not present and bytes on each host
# node, then the guest's locality_ratio, all as vnumactl reports them.
scn_cells_by_node() { # name
        scn_measure "$1" -- --json | python3 -c '
import json, sys
doc = json.load(sys.stdin)
for d in doc["domains"]:
    for g in d["guest_nodes"]:
        hb = " ".join(f"node{h}={b}" for h, b in sorted(g["host_bytes"].items()))
        print("cell=%d size=%d not_present=%d %s" % (g["id"], g["size_bytes"], g["not_present_bytes"], hb))
    print("locality_ratio=%s" % d["locality_ratio"])
'
}

scn_serial_tail() { # name: where the guest got to, its console's last lines
        [ -f "$SCN_STATE/$1.serial" ] && tr -d '\r' <"$SCN_STATE/$1.serial" | tail -n 15 | sed "s/^/scenario: $1 serial: /" >&2
        return 0
}

# Waits until a guest's serial log has a workload progress line with every node above 0; fails
# at once when a plain QEMU's process is gone.
scn_wait_progress() { # name cells timeout-seconds
        local log=$SCN_STATE/$1.serial cells=$2 deadline=$((SECONDS + $3)) pidf=$SCN_STATE/$1.pid
        local plain=0
        [ -f "$pidf" ] && plain=1 # a plain QEMU removes its pid file when it exits
        while [ $SECONDS -lt $deadline ]; do
                if [ $plain -eq 1 ] && [ ! -f "$pidf" ]; then
                        scn_serial_tail "$1"
                        scn_err "$1's QEMU exited before its workload ran on all $cells nodes"
                        return
                fi
                if [ -f "$log" ] && tr -d '\r' <"$log" | awk -v cells="$cells" '
                        /^vnw: t=/ {
                                n = 0
                                for (i = 3; i <= NF; i++) { split($i, kv, "="); v = kv[2] + 0; if (v > 0) n++ }
                                if (n >= cells) { ok = 1 }
                        }
                        END { exit !ok }'; then
                        return 0
                fi
                sleep 2
        done
        scn_serial_tail "$1"
        scn_err "no progress for all $cells nodes from $1's workload within $3 s"
}

scn_stop_all() {
        local kind name
        [ -f "$SCN_STATE/guests" ] || return 0
        while read -r kind name; do
                case "$kind" in
                libvirt) virsh -q destroy "$name" >/dev/null 2>&1 ;;
                qemu) # a guest a test killed has no pid file left
                        if [ -f "$SCN_STATE/$name.pid" ]; then kill "$(cat "$SCN_STATE/$name.pid")" 2>/dev/null || true; fi ;;
                esac
        done <"$SCN_STATE/guests"
        rm -f "$SCN_STATE/guests"
}
