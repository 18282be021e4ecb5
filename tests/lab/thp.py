#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Huge pages and migration timing of guest cells, as the kernel reports them.

Like truth.py, the only thing taken from `vnumactl show --json` (MAP, read from QMP before vnumad
runs) is the address map; what is measured comes from /proc/PID/smaps, /proc/PID/numa_maps and
/proc/vmstat.

    thp.py huge MAP NAME              JSON {"cells": {ID: {"rss", "anon_huge"}}, "rss", "anon_huge"}:
                                      bytes of the VMAs inside each cell's ranges (smaps Rss and
                                      AnonHugePages)
    thp.py watch MAP NAME NODE [--timeout S] [--min F] [--ready FILE]
                                      polls numa_maps of every cell until >= F (0.99) of the
                                      guest's cell bytes are on NODE; JSON {"t_first", "t_done",
                                      "bytes", "polls", "poll_s"}: seconds from the start of the
                                      watch to the first poll that saw bytes arrive on NODE, and
                                      to the poll that saw F there; bytes that arrived. Exit 1 on
                                      timeout. FILE is created once the first poll has taken the
                                      baseline: start the mover after it exists, or a fast one
                                      finishes before the watch has seen anything.
    thp.py vmstat                     JSON of the /proc/vmstat migration counters
    thp.py kept BEFORE AFTER [--min F]
                                      BEFORE and AFTER are `huge` outputs (JSON text): one line
                                      per cell with its AnonHugePages before and after; exit 1
                                      unless every cell kept >= F (0.90) of them
    thp.py rates LABEL WATCHES_A WATCHES_B
                                      WATCHES_* are space-separated files of `watch` outputs (vnumad's
                                      and migratepages' rounds): per round bytes / (t_done - t_first),
                                      the medians and their ratio A/B, on one line
"""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from vnumatest import numa_maps_node_bytes  # noqa: E402

VMSTAT_KEYS = ("pgmigrate_success", "pgmigrate_fail", "thp_migration_success", "thp_migration_fail",
               "thp_migration_split", "thp_split_page", "thp_collapse_alloc")


def domain(doc, name):
    for d in doc["domains"]:
        if d["name"] == name:
            return d
    sys.exit(f"FAIL: {name} is not in the address map")


def smaps_fields(pid, start, end, fields):
    """Sums of smaps FIELDS (kB lines, returned in bytes) over the VMAs inside [start, end)."""
    out = dict.fromkeys(fields, 0)
    inside = False
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split(None, 1)[0]
            if "-" in head and not head.endswith(":"):
                lo, hi = (int(x, 16) for x in head.split("-"))
                inside = lo >= start and hi <= end
            elif inside and head[:-1] in out:
                out[head[:-1]] += int(line.split()[1]) * 1024
    return out


def cmd_huge(doc, name):
    d = domain(doc, name)
    cells = {}
    for g in d["guest_nodes"]:
        c = {"rss": 0, "anon_huge": 0}
        for r in g["hva_ranges"]:
            s = smaps_fields(d["pid"], r["start"], r["end"], ("Rss", "AnonHugePages"))
            c["rss"] += s["Rss"]
            c["anon_huge"] += s["AnonHugePages"]
        cells[str(g["id"])] = c
    print(json.dumps({"cells": cells, "rss": sum(c["rss"] for c in cells.values()),
                      "anon_huge": sum(c["anon_huge"] for c in cells.values())}))


def on_node(d, node):
    total = there = 0
    for g in d["guest_nodes"]:
        for r in g["hva_ranges"]:
            per = numa_maps_node_bytes(d["pid"], r["start"], r["end"])
            total += sum(per.values())
            there += per.get(node, 0)
    return there, total


def cmd_watch(doc, name, node, timeout, minimum, ready):
    d = domain(doc, name)
    base, _ = on_node(d, node)
    if ready:
        open(ready, "w").close()
    t0 = time.monotonic()
    t_first = None
    polls = 0
    while True:
        there, total = on_node(d, node)
        polls += 1
        t = time.monotonic() - t0
        if t_first is None and there > base:
            t_first = t
        if total and there >= minimum * total:
            print(json.dumps({"t_first": t_first if t_first is not None else t, "t_done": t,
                              "bytes": there - base, "polls": polls, "poll_s": t / polls}))
            return 0
        if t > timeout:
            print(json.dumps({"t_first": t_first, "t_done": None, "bytes": there - base, "polls": polls,
                              "poll_s": t / polls, "on_node": there, "total": total}))
            return 1


def cmd_vmstat():
    out = {}
    with open("/proc/vmstat") as f:
        for line in f:
            k, v = line.split()
            if k in VMSTAT_KEYS:
                out[k] = int(v)
    print(json.dumps(out))


def cmd_kept(before, after, minimum):
    ok = True
    for i, c in sorted(before["cells"].items()):
        kept = after["cells"][i]["anon_huge"] / c["anon_huge"] if c["anon_huge"] else 0.0
        print("  cell %s: AnonHugePages %d -> %d MiB (%.1f %% kept), Rss %d -> %d MiB" % (
            i, c["anon_huge"] >> 20, after["cells"][i]["anon_huge"] >> 20, 100 * kept, c["rss"] >> 20,
            after["cells"][i]["rss"] >> 20))
        ok = ok and kept >= minimum
    return 0 if ok else 1


def rate(path):
    with open(path) as f:
        w = json.load(f)
    return w["bytes"] / max(w["t_done"] - w["t_first"], w["poll_s"])


def cmd_rates(label, a_files, b_files):
    a = [rate(p) for p in a_files.split()]
    b = [rate(p) for p in b_files.split()]
    ma, mb = statistics.median(a), statistics.median(b)
    if not ma or not mb:
        print("%s: a side moved nothing that its watch saw (vnumad %s, migratepages %s): no ratio" % (
            label, a, b))
        return 1
    print("%s (MiB/s, first arrival to done; %d rounds): vnumad %s median %.0f; migratepages %s median %.0f; "
          "ratio of medians vnumad/migratepages %.2f" % (
              label, len(a), " ".join("%.0f" % (x / 2**20) for x in a), ma / 2**20,
              " ".join("%.0f" % (x / 2**20) for x in b), mb / 2**20, ma / mb))
    return 0


def main(argv):
    if argv and argv[0] == "vmstat":
        cmd_vmstat()
        return 0
    if len(argv) >= 3 and argv[0] == "kept":
        minimum = float(argv[4]) if len(argv) >= 5 and argv[3] == "--min" else 0.90
        return cmd_kept(json.loads(argv[1]), json.loads(argv[2]), minimum)
    if len(argv) == 4 and argv[0] == "rates":
        return cmd_rates(argv[1], argv[2], argv[3])
    if len(argv) < 3:
        sys.exit(__doc__)
    with open(argv[1]) as f:
        doc = json.load(f)
    if argv[0] == "huge":
        cmd_huge(doc, argv[2])
        return 0
    if argv[0] == "watch" and len(argv) >= 4:
        rest = argv[4:]
        timeout, minimum, ready = 120.0, 0.99, None
        while rest:
            if rest[0] == "--timeout":
                timeout = float(rest[1])
            elif rest[0] == "--min":
                minimum = float(rest[1])
            elif rest[0] == "--ready":
                ready = rest[1]
            else:
                sys.exit(f"unknown option {rest[0]}")
            rest = rest[2:]
        return cmd_watch(doc, argv[2], int(argv[3]), timeout, minimum, ready)
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
