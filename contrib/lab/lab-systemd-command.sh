#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# ExecStart of lab-command.service under `lab run --init systemd` (lab-systemd-setup.sh writes
# the unit): what lab-stage2.sh does after its mounts. Mounts the run share, runs COMMAND
# (/run/lab/cmd.sh) with its output on the second serial port, writes its exit status into the
# share and powers off at once, without stopping units: nothing in the lab needs keeping.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

poweroff_now() {
        sync
        # -ff: reboot(2) straight from systemctl, no shutdown transaction; sysrq if that fails.
        systemctl poweroff --force --force || echo o >/proc/sysrq-trigger
        sleep 60
}

fail() {
        echo "lab-systemd: $*" >/dev/console
        poweroff_now
}

booted=$(cut -d' ' -f1 /proc/uptime)
mkdir -p /run/lab
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 labrun /run/lab || fail "cannot mount the run share"
[ -r /run/lab/cmd.sh ] || fail "no /run/lab/cmd.sh in the run share"

out=/dev/ttyS1
stty -F "$out" raw -echo 2>/dev/null || fail "no second serial port for the command's output"

echo "lab: systemd $(systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p') is PID 1, command starts ${booted} s after the kernel" >"$out"
echo "lab-systemd: running the command" >/dev/console
setsid bash /run/lab/cmd.sh </dev/null >"$out" 2>&1
rc=$?
# stty sets the line with TCSADRAIN: it returns once the UART has sent everything queued.
stty -F "$out" raw -echo 2>/dev/null
echo "$rc" >/run/lab/status.tmp && mv /run/lab/status.tmp /run/lab/status
echo "lab-systemd: command exited with status $rc" >/dev/console
poweroff_now
