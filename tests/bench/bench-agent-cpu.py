#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Agent CPU per period: vnumad managing a 4 GiB guest against a 256 MiB guest, measured the
same way in one run (vnumad's on-CPU time from schedstat, over the same number of periods). The residency
window bounds the work per period, so the ratio should stay near 1 (goal <= 1.2)."""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "qemu"))
from qemu_guest import Guest, skip_without_qemu  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from vnumatest import task_cpu_ns  # noqa: E402

PERIODS = int(os.environ.get("BENCH_PERIODS", "40"))


def cpu_seconds(pid):
    return task_cpu_ns(pid) / 1e9


def status(vnumactl, sock):
    p = subprocess.run([vnumactl, "--socket", sock, "--json", "status"], capture_output=True, text=True)
    return json.loads(p.stdout) if p.returncode == 0 else None


def measure(vnumad, vnumactl, label, guest):
    with guest as g, tempfile.TemporaryDirectory(prefix="vnumad-bench-") as work:
        sock = os.path.join(work, "vnumad.sock")
        d = subprocess.Popen([vnumad, "--foreground", "--socket", sock, "--qmp", g.qmp_path, "--period", "100",
                              "--log-level", "warning", "--no-libvirt"])
        try:
            deadline = time.monotonic() + 60
            st = None
            while time.monotonic() < deadline:
                st = status(vnumactl, sock) if os.path.exists(sock) else None
                if st and st["vms"] and st["period"] >= 5:
                    break
                time.sleep(0.2)
            if not st or not st["vms"]:
                raise SystemExit("%s: vnumad never managed the guest" % label)
            p0, c0 = st["period"], cpu_seconds(d.pid)
            while True:
                st = status(vnumactl, sock)
                if st["period"] >= p0 + PERIODS:
                    break
                time.sleep(0.1)
            p1, c1 = st["period"], cpu_seconds(d.pid)
            per = (c1 - c0) / (p1 - p0) * 1000
            print("%-22s %3d periods  vnumad CPU %.2f ms/period  sampler %s" % (label, p1 - p0, per, st["sampler"]))
            return per
        finally:
            d.terminate()
            d.wait()


def guest(size_mib, name):
    half = size_mib // 2
    return Guest(objects=["memory-backend-ram,id=m0,size=%dM,prealloc=on" % half,
                          "memory-backend-ram,id=m1,size=%dM,prealloc=on" % half],
                 numa=["node,nodeid=0,memdev=m0,cpus=0", "node,nodeid=1,memdev=m1,cpus=1"],
                 smp="2", mem="%dM" % size_mib, name=name)


def main():
    skip_without_qemu()
    vnumad, vnumactl = sys.argv[1], sys.argv[2]
    small = measure(vnumad, vnumactl, "256 MiB guest", guest(256, "small"))
    big = measure(vnumad, vnumactl, "4 GiB guest", guest(4096, "big"))
    print("agent CPU per period, 4 GiB / 256 MiB guest: %.2f (goal <= 1.2)" % (big / small if small > 0 else float("inf")))


if __name__ == "__main__":
    main()
