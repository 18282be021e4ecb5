#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Checks `vnumactl show --json` (stdin) against the kernel's own numa_maps.

Every guest named on the command line must be there with CELLS guest nodes, each with at
least 90 % of its RAM present and all of it on HOME_NODE, as numa_maps says too (within
5 % per cell). Usage: check-placement.py CELLS HOME_NODE NAME... < vnumactl.json"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from truth import vma_node_bytes  # noqa: E402 (the one numa_maps reader of the lab tests)


def main():
    cells, home = int(sys.argv[1]), sys.argv[2]
    names = sys.argv[3:]
    doc = json.load(sys.stdin)
    if doc.get("schema_version") != 2:
        sys.exit(f"FAIL: vnumactl JSON schema_version {doc.get('schema_version')!r}, expected 2")
    doms = {d["name"]: d for d in doc["domains"]}
    failed = False
    for name in names:
        d = doms.get(name)
        if d is None:
            print(f"FAIL: {name} is not in vnumactl's output (has {sorted(doms)})")
            failed = True
            continue
        gns = d["guest_nodes"]
        if len(gns) != cells:
            print(f"FAIL: {name} has {len(gns)} guest nodes, expected {cells}")
            failed = True
        for g in gns:
            hb = {k: int(v) for k, v in g["host_bytes"].items()}
            present = sum(hb.values())
            size = g["size_bytes"]
            truth = {}
            for r in g["hva_ranges"]:
                for n, b in vma_node_bytes(d["pid"], r["start"], r["end"]).items():
                    truth[n] = truth.get(n, 0) + b
            print(f"{name} cell {g['id']} ({g['backend']}): size {size >> 20} MiB, vnumactl "
                  f"{ {k: v >> 20 for k, v in sorted(hb.items())} } MiB, numa_maps "
                  f"{ {k: v >> 20 for k, v in sorted(truth.items())} } MiB, not present "
                  f"{g['not_present_bytes'] >> 20} MiB, unavailable {g.get('unavailable_bytes')}")
            if present < 0.9 * size:
                print(f"FAIL: {name} cell {g['id']}: only {present} of {size} bytes present")
                failed = True
            if hb.get(home, 0) < 0.98 * present:
                print(f"FAIL: {name} cell {g['id']}: not all on host node {home}")
                failed = True
            for n in set(hb) | set(truth):
                a, b = hb.get(n, 0), truth.get(n, 0)
                if abs(a - b) > 0.05 * size:
                    print(f"FAIL: {name} cell {g['id']} node {n}: vnumactl says {a} bytes, "
                          f"numa_maps {b}")
                    failed = True
        print(f"{name}: locality_ratio {d['locality_ratio']}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
