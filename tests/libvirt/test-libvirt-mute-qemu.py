#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A libvirt domain whose QEMU never answers its monitor (issue 13: one QEMU must not stall the
event loop). vnumad learns a domain with virDomainQemuMonitorCommand, which waits for QEMU's
answer without a time limit; the QEMU here is stopped with SIGSTOP, as a compromised or wedged
QEMU would stop reading its monitor. While it is stopped, the other domain is managed, `vnumactl
status` answers within 1 s every time and the periods keep their pace; vnumad says once which
domain it waits for. Once the QEMU runs again the domain is managed, with libvirt's pid.
Judged by the kernel (the QEMU's state in /proc/PID/stat), libvirt's pid file, the period counter
and the wall clock."""
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "pylib"))
import libvirt_harness as lh  # noqa: E402
from vnumatest import Daemon, ctl, status, vm_of, wait_for  # noqa: E402

PERIOD_MS = 500
QUERY_TIMEOUT = "2s"  # [qmp] query-timeout: a probe is overdue (logged) after twice that


def proc_state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def run(t, work):
    doms = lh.Domains(work)
    d = None
    mute_pid = None
    try:
        honest = doms.create()
        mute = doms.create()
        mute_pid = lh.qemu_pid(mute)
        os.kill(mute_pid, signal.SIGSTOP)
        stopped, _ = wait_for(lambda: proc_state(mute_pid) == "T", 5)
        t.check(stopped is not None, "mute %s: QEMU pid %d stopped (state %s)" % (mute, mute_pid, proc_state(mute_pid)))

        d = Daemon(work, "main", PERIOD_MS, libvirt_uri=lh.URI, config="[qmp]\nquery-timeout = %s\n" % QUERY_TIMEOUT)
        v, w = wait_for(lambda: vm_of(status(d.sock), honest), 30)
        t.check(v is not None and v["pid"] == lh.qemu_pid(honest),
                "honest %s managed after %.1f s beside a silent QEMU (pid %s)" % (honest, w, v and v["pid"]))

        # Ten seconds of control calls while the mute domain's query waits for its QEMU.
        p0, t0, worst, calls, listed = status(d.sock)["period"], time.monotonic(), 0.0, 0, 0
        while time.monotonic() - t0 < 10:
            c0 = time.monotonic()
            text = ctl(d.sock, "status", timeout=10).stdout
            worst = max(worst, time.monotonic() - c0)
            calls += 1
            listed += honest in text
            time.sleep(0.5)
        elapsed, periods = time.monotonic() - t0, status(d.sock)["period"] - p0
        print("status: slowest answer %.3f s; %d periods in %.1f s" % (worst, periods, elapsed))
        t.check(worst < 1.0, "vnumactl status answered within 1 s every time (slowest %.3f s)" % worst)
        t.check(listed == calls, "vnumactl status listed %s in %d of %d calls" % (honest, listed, calls))
        t.check(periods >= 0.8 * elapsed * 1000 / PERIOD_MS,
                "periods kept their pace: %d in %.1f s of %d ms" % (periods, elapsed, PERIOD_MS))
        t.check(vm_of(status(d.sock), mute) is None, "mute %s not managed while its QEMU is stopped" % mute)
        line, w = wait_for(lambda: [ln for ln in d.text().splitlines()
                                    if "Domain %s: its QEMU has not answered" % mute in ln], 30)
        t.check(line is not None, "vnumad says it waits for %s (%.1f s)" % (mute, w))
        if line:
            print("log: %s" % line[0])
            t.check(line[0].startswith("<4>"), "said as a warning")

        os.kill(mute_pid, signal.SIGCONT)
        mute_pid_running = mute_pid
        mute_pid = None
        v, w = wait_for(lambda: vm_of(status(d.sock), mute), 30)
        t.check(v is not None and v["pid"] == mute_pid_running,
                "mute %s managed %.1f s after its QEMU runs again (pid %s, libvirt's %d)" %
                (mute, w, v and v["pid"], mute_pid_running))
        said = [ln for ln in d.text().splitlines() if "Domain %s: its QEMU has not answered" % mute in ln]
        t.check(len(said) == 1, "said once: %d lines" % len(said))
        if t.errors:
            print("---- vnumad log (tail) ----\n" + d.text()[-4000:] + "---- end of log ----")
    finally:  # each step even when one before it fails
        try:
            if mute_pid:
                os.kill(mute_pid, signal.SIGCONT)
            if d:
                t.check(d.stop() == 0, "vnumad: SIGTERM exit status")
        finally:
            doms.cleanup()


if __name__ == "__main__":
    lh.e2e_main(run, "vnumad-lvmute-")
