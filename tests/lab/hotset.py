#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Where a guest's hot set is, as the kernel says: the hot pages' guest physical ranges come from
the guest workload's "vnw: hot-gpa node=N ..." lines (vnw.pattern=hot, tests/lab/guest-workload.c);
the address map (`vnumactl show --qmp --json`, read before vnumad runs) turns them into host
addresses of the cell; move_pages(2) with no target nodes (a query: the kernel's answer, not
vnumad's) says which host node holds each page of the cell.

    hotset.py where MAP NAME SERIAL CELL    JSON: {"cell": bytes per node, "hot": bytes per node,
                                            "cold": bytes per node, "hot_bytes": N}

Assumes the guest's cells follow each other in guest physical memory from 0, in id order, each
one host range (a plain QEMU with -numa node,memdev= and cells below 2 GiB, as scenario.sh
starts them)."""
import ctypes
import json
import re
import sys

PAGE = 4096
SYS_move_pages = 279  # x86-64
libc = ctypes.CDLL(None, use_errno=True)


def hot_ranges(serial, cell):
    ranges, done = [], False
    pat = re.compile(r"vnw: hot-gpa node=%d (.*)" % cell)
    with open(serial, errors="replace") as f:
        for line in f:
            m = pat.search(line.replace("\r", ""))
            if not m:
                continue
            rest = m.group(1).strip()
            if rest.startswith("end"):
                if "truncated" in rest:
                    sys.exit("FAIL: the workload's hot-gpa list was truncated")
                done = True
                continue
            for r in rest.split():
                lo, hi = (int(x, 16) for x in r.split("-"))
                ranges.append((lo, hi))
    if not done:
        sys.exit("FAIL: no 'vnw: hot-gpa node=%d end' line in %s" % (cell, serial))
    return ranges


def query_nodes(pid, addrs):
    """Host node per address (negative: an errno such as -ENOENT for a page not present)."""
    out = []
    for i in range(0, len(addrs), 4096):
        chunk = addrs[i:i + 4096]
        n = len(chunk)
        pages = (ctypes.c_void_p * n)(*chunk)
        status = (ctypes.c_int * n)()
        r = libc.syscall(SYS_move_pages, pid, ctypes.c_ulong(n), pages, None, status, 0)
        if r < 0:
            sys.exit("FAIL: move_pages query of pid %d: errno %d" % (pid, ctypes.get_errno()))
        out.extend(status)
    return out


def where(mapfile, name, serial, cell):
    doc = json.load(open(mapfile))
    dom = next((d for d in doc["domains"] if d["name"] == name), None)
    if dom is None:
        sys.exit("FAIL: %s is not in the address map" % name)
    cells = sorted(dom["guest_nodes"], key=lambda g: g["id"])
    base = 0
    for g in cells:
        if g["id"] == cell:
            break
        base += g["size_bytes"]
    g = next(g for g in cells if g["id"] == cell)
    if len(g["hva_ranges"]) != 1:
        sys.exit("FAIL: cell %d has %d host ranges; this helper wants one" % (cell, len(g["hva_ranges"])))
    hva = g["hva_ranges"][0]["start"]
    size = g["size_bytes"]
    hot = set()
    for lo, hi in hot_ranges(serial, cell):
        for gpa in range(lo, hi, PAGE):
            if base <= gpa < base + size:
                hot.add((gpa - base) // PAGE)
    nodes = query_nodes(dom["pid"], [hva + i * PAGE for i in range(size // PAGE)])
    res = {"cell": {}, "hot": {}, "cold": {}, "hot_bytes": len(hot) * PAGE, "cell_bytes": size}
    for i, n in enumerate(nodes):
        key = str(n) if n >= 0 else "absent"
        res["cell"][key] = res["cell"].get(key, 0) + PAGE
        part = "hot" if i in hot else "cold"
        res[part][key] = res[part].get(key, 0) + PAGE
    return res


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "where":
        print(json.dumps(where(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))))
        return
    sys.exit(__doc__)


if __name__ == "__main__":
    main()
