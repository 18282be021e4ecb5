#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Inside a lab booted with systemd as PID 1 (lab run --init systemd): the Debian package's unit,
# hardened as shipped, does what contrib/systemd/vnumad.service.in says under a real systemd.
#  - dpkg -i of the package ($VNUMA_DEB) enables the unit; `systemctl start` returns once vnumad
#    sent READY=1 (Type=notify), and the hardening is in force on the running process.
#  - the control socket is 0660 root:read-group; vnumactl status works for root and for a member of
#    the read group and is refused for anyone else.
#  - `systemctl reload` with a good config applies it, with a bad one fails (ExecReload runs
#    --check-config) and the daemon keeps running with the old config.
#  - a daemon stopped with SIGSTOP misses its watchdog pings and systemd restarts it; a healthy one
#    is left alone.
#  - journalctl -u vnumad has its start line.
# Verdicts come from systemd (systemctl show, the journal), /proc, the socket file and the socket
# itself, never from vnumad's own report. Prints systemd-analyze security vnumad at the end.
set -euo pipefail

deb=${VNUMA_DEB:?VNUMA_DEB must name the vnumad .deb}
sock=/run/vnumad/vnumad.sock
dropin=/etc/systemd/system/vnumad.service.d

step() {
        echo "== [${SECONDS}s] $*"
}

die() {
        echo "FAIL: $*"
        echo "--- systemctl status vnumad"
        systemctl status vnumad --no-pager -l 2>&1 | tail -n 25 || true
        echo "--- journalctl -u vnumad (last 40)"
        journalctl -u vnumad --no-pager -o short-monotonic -n 40 2>&1 || true
        exit 1
}

prop() { # property
        systemctl show -p "$1" --value vnumad
}

wait_for() { # seconds command...
        local deadline=$((SECONDS + $1))
        shift
        until "$@"; do
                [ $SECONDS -lt $deadline ] || return 1
                sleep 0.5
        done
}

sock_group() {
        stat -c %G "$sock"
}

as_user() { # user command...
        local u=$1
        shift
        setpriv --reuid="$u" --regid="$u" --init-groups -- "$@"
}

# Connects to the control socket as USER and prints what came first: the greeting's "QMP" key, or
# the connect error's errno name. The socket's own answer, not vnumactl's.
raw_connect() { # user
        as_user "$1" python3 -c '
import errno, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))
    sys.exit(0)
data = s.recv(4096)
print("QMP" if b"\"QMP\"" in data else "no greeting: %r" % data[:80])
' "$sock"
}

[ "$(cat /proc/1/comm)" = systemd ] || die "PID 1 is $(cat /proc/1/comm), not systemd (lab run --init systemd)"
echo "systemd: $(systemctl --version | head -n1)"
systemd-analyze time 2>&1 || true
echo "system state: $(systemctl is-system-running 2>&1 || true)"

step "dpkg -i $(basename "$deb")"
# man-db's trigger indexes every manual page again (minutes under TCG); this file is its switch.
rm -f /var/lib/man-db/auto-update
t0=$SECONDS
DEBIAN_FRONTEND=noninteractive dpkg -i "$deb" || die "dpkg -i $deb failed"
echo "installed in $((SECONDS - t0)) s: $(dpkg-query -W -f '${Package} ${Version} ${Status}' vnumad)"
[ -x /usr/sbin/vnumad ] || die "the package did not install /usr/sbin/vnumad"
[ "$(systemctl is-enabled vnumad 2>&1)" = enabled ] ||
        die "the package did not enable vnumad.service: $(systemctl is-enabled vnumad 2>&1)"
echo "unit: $(prop FragmentPath), ExecStart $(prop ExecStart | grep -o 'path=[^ ;]*' | head -n1)"
# The postinst starts it (dh_installsystemd) unless a policy-rc.d forbids it, as the build
# machine's does (exit 101); either way the test starts it itself.
systemctl stop vnumad

step "config: read-group vnumadread"
groupadd vnumadread
groupadd vnumadread2
useradd --no-create-home --groups vnumadread,vnumadread2 labreader
useradd --no-create-home labother
[ -d /etc/vnumad/conf.d ] || die "the package has no /etc/vnumad/conf.d"
printf '[daemon]\nread-group = vnumadread\n' >/etc/vnumad/conf.d/50-lab.conf
vnumad --check-config || die "vnumad --check-config refuses the test's config"

step "systemctl start vnumad"
t0=$SECONDS
systemctl start vnumad || die "systemctl start vnumad failed"
echo "started in $((SECONDS - t0)) s (libvirtd pulled in: $(systemctl is-active libvirtd 2>&1 || true))"
state="$(prop ActiveState)/$(prop SubState)"
pid=$(prop MainPID)
echo "ActiveState/SubState $state, MainPID $pid, Type $(prop Type), StatusText '$(prop StatusText)'"
[ "$state" = active/running ] || die "vnumad is $state after start, not active/running"
[ "$(prop Type)" = notify ] || die "the unit is Type=$(prop Type), not notify: active would not mean READY"
[ "$pid" -gt 0 ] && [ "$(cat "/proc/$pid/comm")" = vnumad ] || die "MainPID $pid is not vnumad"
# The hardening as the kernel sees it on the running daemon.
grep -q '^NoNewPrivs:[[:space:]]*1$' "/proc/$pid/status" || die "NoNewPrivileges is not in force"
grep -q '^Seccomp:[[:space:]]*2$' "/proc/$pid/status" || die "no seccomp filter (SystemCallFilter)"
awk '$5 == "/" { for (i = 6; i <= NF; i++) if ($i ~ /^ro(,|$)/) found = 1 } END { exit !found }' \
        "/proc/$pid/mountinfo" || die "/ is writable for vnumad (ProtectSystem=strict)"
awk '$5 == "/run/vnumad" { for (i = 6; i <= NF; i++) if ($i ~ /^rw(,|$)/) found = 1 } END { exit !found }' \
        "/proc/$pid/mountinfo" || die "/run/vnumad is not writable for vnumad (ReadWritePaths)"
echo "in force: NoNewPrivs 1, Seccomp 2, / read-only, /run/vnumad writable, $(grep CapBnd "/proc/$pid/status")"

step "control socket and who may use it"
perm=$(stat -c '%a %U %G' "$sock") || die "no control socket $sock"
echo "$sock: $perm"
[ "$perm" = "660 root vnumadread" ] || die "$sock is '$perm', not '660 root vnumadread'"
vnumactl status || die "vnumactl status as root failed"
as_user labreader vnumactl status >/dev/null || die "vnumactl status as labreader (read group) failed"
[ "$(raw_connect labreader)" = QMP ] || die "labreader got no greeting from the socket: $(raw_connect labreader)"
set +e
err=$(as_user labother vnumactl status 2>&1 >/dev/null)
rc=$?
set -e
echo "labother: exit $rc: $err"
[ $rc -eq 1 ] || die "vnumactl status as labother (not in the read group) exited $rc, not 1"
[[ $err == *"Permission denied"* ]] || die "labother's refusal does not say Permission denied: $err"
[ "$(raw_connect labother)" = EACCES ] || die "the socket let labother connect: $(raw_connect labother)"

step "systemctl reload, a good config: read-group vnumadread2"
printf '[daemon]\nread-group = vnumadread2\n' >/etc/vnumad/conf.d/50-lab.conf
systemctl reload vnumad || die "systemctl reload with a good config failed"
wait_for 20 test "$(sock_group)" = vnumadread2 || die "after the reload the socket's group is $(sock_group), not vnumadread2"
[ "$(prop MainPID)" = "$pid" ] || die "the reload replaced the daemon (MainPID $pid -> $(prop MainPID))"
echo "socket group $(sock_group), MainPID $(prop MainPID), $(prop ActiveState)"

step "systemctl reload, a bad config (conf.d/60-bad.conf: period = banana)"
printf '[daemon]\nread-group = vnumadread\nperiod = banana\n' >/etc/vnumad/conf.d/60-bad.conf
if systemctl reload vnumad; then
        die "systemctl reload with a bad config succeeded"
fi
journalctl -u vnumad --no-pager -o cat | grep -F '60-bad.conf:3' ||
        die "the journal does not have the check's 60-bad.conf:3 message"
sleep 3
[ "$(prop MainPID)" = "$pid" ] || die "after the failed reload MainPID is $(prop MainPID), not $pid"
[ "$(prop ActiveState)" = active ] || die "after the failed reload vnumad is $(prop ActiveState)"
[ "$(sock_group)" = vnumadread2 ] || die "the bad config was applied: the socket's group is $(sock_group)"
vnumactl status >/dev/null || die "vnumactl status after the failed reload failed"
rm /etc/vnumad/conf.d/60-bad.conf
echo "kept: MainPID $pid, socket group vnumadread2"

step "journal: the start line"
journalctl -u vnumad --no-pager -o cat | grep -E '^vnumad .*host nodes, sampler' ||
        die "journalctl -u vnumad has no start line"

step "watchdog: WatchdogSec=4s (drop-in), then kill -STOP"
mkdir -p "$dropin"
printf '[Service]\nWatchdogSec=4s\nTimeoutAbortSec=5s\nRestartSec=1s\n' >"$dropin/lab-watchdog.conf"
systemctl daemon-reload
systemctl restart vnumad || die "systemctl restart with the watchdog drop-in failed"
[ "$(prop WatchdogUSec)" = 4s ] || die "WatchdogUSec is $(prop WatchdogUSec), the drop-in did not apply"
pid=$(prop MainPID)
n0=$(prop NRestarts)
# Three watchdog intervals: a daemon that pings keeps its process.
sleep 12
[ "$(prop MainPID)" = "$pid" ] && [ "$(prop NRestarts)" = "$n0" ] ||
        die "a healthy vnumad was restarted (MainPID $pid -> $(prop MainPID), NRestarts $n0 -> $(prop NRestarts))"
echo "healthy for 12 s: MainPID $pid, NRestarts $n0"
kill -STOP "$pid"
t0=$SECONDS
restarted() {
        local p
        p=$(prop MainPID)
        [ "$p" != 0 ] && [ "$p" != "$pid" ] && [ "$(prop ActiveState)" = active ]
}
wait_for 90 restarted || die "no restart within 90 s of SIGSTOP (MainPID $(prop MainPID), NRestarts $(prop NRestarts))"
echo "restarted after $((SECONDS - t0)) s: MainPID $pid -> $(prop MainPID), NRestarts $n0 -> $(prop NRestarts)"
[ "$(prop NRestarts)" = $((n0 + 1)) ] || die "NRestarts is $(prop NRestarts), not $((n0 + 1))"
[ ! -e "/proc/$pid" ] || die "the stopped vnumad $pid is still there"
journalctl -u vnumad --no-pager -o cat | grep -i 'watchdog timeout' || die "the journal has no watchdog timeout"
vnumactl status >/dev/null || die "vnumactl status after the watchdog restart failed"
rm -r "$dropin"
systemctl daemon-reload

step "systemd-analyze security vnumad"
systemd-analyze security vnumad --no-pager 2>&1 || true
echo "PASS: vnumad.service under systemd $(systemctl --version | head -n1 | cut -d' ' -f2): start/READY, read group, reload good and bad, watchdog restart, journal"
