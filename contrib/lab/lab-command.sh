# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# Sourced by the lab's PID 1 paths (lab-stage2.sh, lab-systemd-command.sh) once the run share is
# mounted on /run/lab: runs COMMAND (/run/lab/cmd.sh) with its output on the second serial port,
# writes its exit status into the share and powers off. The caller defines fail and poweroff_now.

lab_run_command() { # tag [first line of the output]
        local tag=$1 out=/dev/ttyS1 rc

        [ -r /run/lab/cmd.sh ] || fail "no /run/lab/cmd.sh in the run share"
        stty -F "$out" raw -echo 2>/dev/null || fail "no second serial port for the command's output"
        [ -z "${2:-}" ] || echo "$2" >"$out"
        echo "$tag: running the command" >/dev/console
        setsid bash /run/lab/cmd.sh </dev/null >"$out" 2>&1
        rc=$?
        # stty sets the line with TCSADRAIN: it returns once the UART has sent everything queued.
        stty -F "$out" raw -echo 2>/dev/null
        echo "$rc" >/run/lab/status.tmp && mv /run/lab/status.tmp /run/lab/status
        echo "$tag: command exited with status $rc" >/dev/console
        poweroff_now
}
