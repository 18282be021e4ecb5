#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What move_pages(2) says of each page of a guest's cells, against what pagemap says is there.

    hinting-probe.py MAP NAME      one line per cell: page counts per class, then a JSON total

Classes: "node N" (present, move_pages names its node), "hidden" (present in pagemap, but
move_pages answers -ENOENT: a NUMA-hinting PROT_NONE pte on kernels 6.0-6.4), "untouched"
(neither present nor swapped), and "present -ERRNO" for any other answer. Reads the kernel only:
the MAP (vnumactl show --json, from QMP before vnumad ran) just says where the cells are."""
import ctypes
import errno
import json
import os
import struct
import sys

SYS_MOVE_PAGES = 279  # x86_64
PRESENT, SWAPPED = 1 << 63, 1 << 62
CHUNK = 16384
libc = ctypes.CDLL(None, use_errno=True)


def query(pid, addrs):
    n = len(addrs)
    pages = (ctypes.c_void_p * n)(*addrs)
    status = (ctypes.c_int * n)(*([-1000] * n))
    r = libc.syscall(SYS_MOVE_PAGES, ctypes.c_long(pid), ctypes.c_ulong(n), pages, None, status, 0)
    if r < 0:
        e = ctypes.get_errno()
        sys.exit(f"move_pages({pid}, {n} pages): {os.strerror(e)}")
    return list(status)


def classify(pid, start, end, ps, counts):
    with open(f"/proc/{pid}/pagemap", "rb") as pm:
        for lo in range(start, end, CHUNK * ps):
            addrs = list(range(lo, min(end, lo + CHUNK * ps), ps))
            pm.seek(lo // ps * 8)
            entries = struct.unpack(f"{len(addrs)}Q", pm.read(8 * len(addrs)))
            for st, e in zip(query(pid, addrs), entries):
                there = bool(e & (PRESENT | SWAPPED))
                if st >= 0:
                    key = f"node {st}"
                elif not there:
                    key = "untouched"
                elif st == -errno.ENOENT:
                    key = "hidden"
                else:
                    key = f"present -{errno.errorcode.get(-st, str(-st))}"
                counts[key] = counts.get(key, 0) + 1


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    doc = json.load(open(sys.argv[1]))
    dom = next((d for d in doc["domains"] if d["name"] == sys.argv[2]), None)
    if dom is None:
        sys.exit(f"{sys.argv[2]} is not in {sys.argv[1]}")
    ps = os.sysconf("SC_PAGE_SIZE")
    total = {}
    for g in dom["guest_nodes"]:
        counts = {}
        for r in g["hva_ranges"]:
            classify(dom["pid"], r["start"], r["end"], ps, counts)
        print(f"{sys.argv[2]} cell {g['id']}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        for k, v in counts.items():
            total[k] = total.get(k, 0) + v
    print(json.dumps(total, sort_keys=True))


main()
