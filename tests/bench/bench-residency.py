#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Residency scan benchmark: a guest with 4 GiB of prealloc'd cells and a 32 GiB guest that is
mostly not present (reserve=off). Prints bench-residency's line for each (medians, ratios)."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "qemu"))
from qemu_guest import Guest, skip_without_qemu  # noqa: E402


GIB = 1 << 30
STRIDE = 256 << 20


def touch(g, ranges):
    """Writes one byte every STRIDE of guest-physical memory in ranges, through /proc/PID/mem at the
    host address QEMU's gpa2hva gives: a sparse guest then has pages present all over its cells,
    as a guest that has run a while would, instead of none (which the scan would skip cheaply)."""
    n = 0
    with open("/proc/%d/mem" % g.pid, "r+b", buffering=0) as mem:
        for lo, hi in ranges:
            for gpa in range(lo, hi, STRIDE):
                m = re.search(r" is (0x[0-9a-f]+)", g.hmp("gpa2hva %#x" % gpa))
                if not m:
                    raise SystemExit("gpa2hva %#x: no host address" % gpa)
                mem.seek(int(m.group(1), 16))
                mem.write(b"\x01")
                n += 1
    return n


def run(bench, label, guest, runs, touch_ranges=()):
    with guest as g:
        if touch_ranges:
            n = touch(g, touch_ranges)
            print("%s: touched %d pages (one every %d MiB)" % (label, n, STRIDE >> 20))
        print(subprocess.run([bench, "--qmp", g.qmp_path, "--runs", str(runs), "--label", label],
                             check=True, capture_output=True, text=True).stdout, end="")


def main():
    skip_without_qemu()
    bench = os.environ.get("BENCH_RESIDENCY") or sys.argv[1]
    runs = int(os.environ.get("BENCH_RUNS", "5"))
    print("residency scan: vnumad move_pages(NULL nodes) scan vs reading /proc/PID/numa_maps, medians of %d" % runs)
    run(bench, "4 GiB prealloc, 2 cells", Guest(
        objects=["memory-backend-ram,id=m0,size=2G,prealloc=on", "memory-backend-memfd,id=m1,size=2G,prealloc=on"],
        numa=["node,nodeid=0,memdev=m0,cpus=0-1", "node,nodeid=1,memdev=m1,cpus=2-3"], mem="4G", name="b4g"), runs)
    run(bench, "32 GiB reserve=off, 2 cells", Guest(
        objects=["memory-backend-ram,id=m0,size=16G,reserve=off", "memory-backend-ram,id=m1,size=16G,reserve=off"],
        numa=["node,nodeid=0,memdev=m0,cpus=0-1", "node,nodeid=1,memdev=m1,cpus=2-3"], mem="32G", name="b32g"), runs,
        # q35 puts 2 GiB below 4 GiB and the rest from 4 GiB up; the firmware lives under 1 GiB.
        touch_ranges=[(1 * GIB, 2 * GIB), (4 * GIB, 34 * GIB)])


if __name__ == "__main__":
    main()
