#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Scale: one vnumad (--qmp-dir) managing 100 small plain QEMUs against 10, in the same run.

Each guest has 2 cells of BENCH_SCALE_MIB/2 (default 64 MiB in all), is paused (-S) and
prealloc'd, so guest RAM is resident but no guest runs. For 10 guests, then 100 (the first 10
plus 90 more), after BENCH_SCALE_PERIODS periods of settling it prints: vnumad's RSS
(/proc/PID/status), its CPU per period (schedstat over the same periods), the time between periods
(timed here; a period longer than its interval shows) and the planner's time (status), the daemon's answer time for `show` and `status` on one control connection
(median and max of 50, timed here), and `vnumactl --json status` / `show` end to end (median of
20, a new process each). Then the ratios 100/10 and the issue's goals (issue 15 item 7):
show and status <= 20 ms at 100, vnumactl status <= 20 ms, RSS <= 32 MiB, CPU per period at 100
<= 10x that at 10. It prints; it does not pass or fail on time (benchmarks never do)."""
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "qemu"))
from qemu_guest import Guest, skip_without_qemu  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from vnumatest import proc_status_kib, task_cpu_ns  # noqa: E402

PERIODS = int(os.environ.get("BENCH_SCALE_PERIODS", "20"))
GUEST_MIB = int(os.environ.get("BENCH_SCALE_MIB", "64"))
PERIOD_MS = 1000


class Control:
    """One connection to the control socket, kept open: the daemon's own answer time."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(30)
        self.s.connect(path)
        self.f = self.s.makefile("rwb")
        json.loads(self.f.readline())
        self.call("qmp_capabilities")

    def call(self, command):
        self.f.write(json.dumps({"execute": command}).encode() + b"\n")
        self.f.flush()
        while True:
            reply = json.loads(self.f.readline())
            if "event" not in reply:
                break
        if "error" in reply:
            raise RuntimeError("%s: %s" % (command, reply["error"]))
        return reply["return"]

    def timed(self, command, n=50):
        ms = []
        for _ in range(n):
            t = time.perf_counter()
            self.call(command)
            ms.append((time.perf_counter() - t) * 1000)
        return statistics.median(ms), max(ms)

    def close(self):
        self.s.close()


def ctl_ms(vnumactl, sock, verb, n=20):
    ms = []
    for _ in range(n):
        t = time.perf_counter()
        p = subprocess.run([vnumactl, "--socket", sock, "--json", verb], capture_output=True)
        ms.append((time.perf_counter() - t) * 1000)
        if p.returncode != 0:
            raise SystemExit("vnumactl %s failed: %s" % (verb, p.stderr.decode()[:300]))
    return statistics.median(ms)


def start_guest(qmp_dir, i):
    half = GUEST_MIB // 2
    g = Guest(objects=["memory-backend-ram,id=m0,size=%dM,prealloc=on" % half,
                       "memory-backend-ram,id=m1,size=%dM,prealloc=on" % half],
              numa=["node,nodeid=0,memdev=m0,cpus=0", "node,nodeid=1,memdev=m1,cpus=1"],
              smp="2", mem="%dM" % GUEST_MIB, name="s%03d" % i)
    # vnumad's --qmp-dir names a guest by its socket (and refuses symlinks): move the socket in.
    os.rename(g.qmp_path, os.path.join(qmp_dir, "s%03d.sock" % i))
    return g


def wait_managed(ctl, n, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = ctl.call("status")
        if len(st["vms"]) >= n:
            return st
        time.sleep(0.5)
    raise SystemExit("vnumad manages %d of %d guests after %d s" % (len(st["vms"]), n, timeout))


def measure(label, d, ctl, vnumactl, sock, n):
    st = wait_managed(ctl, n)
    p0 = st["period"]
    while ctl.call("status")["period"] < p0 + 3:  # settle: every guest seen at least once
        time.sleep(0.2)
    st = ctl.call("status")
    p0, c0, t0 = st["period"], task_cpu_ns(d.pid), time.monotonic()
    while True:
        st = ctl.call("status")
        if st["period"] >= p0 + PERIODS:
            break
        time.sleep(0.2)
    p1, c1, t1 = st["period"], task_cpu_ns(d.pid), time.monotonic()
    row = {
        "guests": n,
        "rss_mib": proc_status_kib(d.pid, "VmRSS") / 1024,
        "cpu_ms_per_period": (c1 - c0) / 1e6 / (p1 - p0),
        "period_ms": (t1 - t0) * 1000 / (p1 - p0),
        "plan_ms": (st.get("last_period") or {}).get("plan_ns", 0) / 1e6,
    }
    row["show_med"], row["show_max"] = ctl.timed("show")
    row["status_med"], row["status_max"] = ctl.timed("status")
    row["ctl_status_ms"] = ctl_ms(vnumactl, sock, "status")
    row["ctl_show_ms"] = ctl_ms(vnumactl, sock, "show")
    print("%-10s RSS %5.1f MiB  CPU %6.2f ms/period  period every %6.0f ms (plan %.2f ms)  "
          "show %5.2f ms (max %6.2f)  status %5.2f ms (max %5.2f)  vnumactl status %5.1f ms, show %5.1f ms"
          % (label, row["rss_mib"], row["cpu_ms_per_period"], row["period_ms"], row["plan_ms"],
             row["show_med"], row["show_max"], row["status_med"], row["status_max"], row["ctl_status_ms"],
             row["ctl_show_ms"]), flush=True)
    return row


def main():
    skip_without_qemu()
    vnumad, vnumactl = sys.argv[1], sys.argv[2]
    guests = []
    work = tempfile.mkdtemp(prefix="vnumad-scale-")
    qmp_dir = os.path.join(work, "qmp")
    os.mkdir(qmp_dir, 0o700)
    sock = os.path.join(work, "vnumad.sock")
    d = subprocess.Popen([vnumad, "--foreground", "--socket", sock, "--qmp-dir", qmp_dir, "--period", str(PERIOD_MS),
                          "--log-level", "warning", "--no-libvirt"])
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(sock):
            if d.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("vnumad did not start")
            time.sleep(0.1)
        ctl = Control(sock)
        rows = []
        for target in (10, 100):
            t = time.monotonic()
            while len(guests) < target:
                guests.append(start_guest(qmp_dir, len(guests)))
            print("%d guests of %d MiB started in %.0f s" % (target, GUEST_MIB, time.monotonic() - t), flush=True)
            rows.append(measure("%d guests" % target, d, ctl, vnumactl, sock, target))
        ctl.close()
        a, b = rows
        print("ratios 100/10: RSS %.2f, CPU per period %.2f, show %.2f, status %.2f, vnumactl status %.2f"
              % (b["rss_mib"] / a["rss_mib"], b["cpu_ms_per_period"] / max(a["cpu_ms_per_period"], 1e-6),
                 b["show_med"] / a["show_med"], b["status_med"] / a["status_med"],
                 b["ctl_status_ms"] / a["ctl_status_ms"]))
        goals = [("show <= 20 ms at 100", b["show_med"] <= 20), ("status <= 20 ms at 100", b["status_med"] <= 20),
                 ("vnumactl status <= 20 ms at 100", b["ctl_status_ms"] <= 20), ("RSS <= 32 MiB", b["rss_mib"] <= 32),
                 ("CPU per period 100/10 <= 10", b["cpu_ms_per_period"] <= 10 * a["cpu_ms_per_period"])]
        print("goals: " + ", ".join("%s: %s" % (g, "met" if ok else "NOT met") for g, ok in goals))
    finally:
        d.terminate()
        d.wait()
        for g in guests:
            g.stop()
        shutil.rmtree(work, ignore_errors=True)


main()
