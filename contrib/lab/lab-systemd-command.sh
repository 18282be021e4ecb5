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
# shellcheck source=contrib/lab/lab-command.sh
. "$(dirname "$0")/lab-command.sh"
lab_run_command lab-systemd \
        "lab: systemd $(systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p') is PID 1, command starts ${booted} s after the kernel"
