#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Residency scan benchmark: a guest with 4 GiB of prealloc'd cells and a 32 GiB guest that is
mostly not present (reserve=off). Prints bench-residency's line for each (medians, ratios)."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "qemu"))
from qemu_guest import Guest, skip_without_qemu  # noqa: E402


def run(bench, label, guest, runs):
    with guest as g:
        # Touch a little of the sparse guest so something is present.
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
        numa=["node,nodeid=0,memdev=m0,cpus=0-1", "node,nodeid=1,memdev=m1,cpus=2-3"], mem="32G", name="b32g"), runs)


if __name__ == "__main__":
    main()
