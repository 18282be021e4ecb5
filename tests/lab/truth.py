#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Ground truth for the lab tests: where guest pages and vCPU threads are, as the kernel says.

vnumad's own replies are never a verdict here. The only thing taken from `vnumactl show --json`
(a MAP, captured from QEMU's QMP before vnumad runs) is the address map: each guest's pid, each
cell's host virtual ranges and size, and each vCPU's thread id and cell. Everything measured
comes from /proc/PID/numa_maps, /proc/PID/task/TID/status, /proc/TID/cgroup and sysfs.

    truth.py snapshot MAP NAME...           JSON: per cell bytes per node, per vCPU its CPUs
    truth.py show SNAP                      the snapshot, one line per cell and vCPU
    truth.py on-node SNAP NODE NAME... [--min F]
                                            every cell present and >= F (0.98) on NODE
    truth.py local SNAP MIN NAME... [--homes H0,H1,...]
                                            every cell present and >= MIN on its home: the node
                                            holding most of it, or the given node per cell
    truth.py homes SNAP NAME                "CELL NODE" per cell: the node holding most of it
    truth.py distinct SNAP NAME             the guest's cells have different homes
    truth.py pinned SNAP NAME... [--homes ...]
                                            every vCPU's Cpus_allowed_list is exactly the CPUs
                                            of its cell's home node
    truth.py cgroup-pinned SNAP NAME... [--homes ...]
                                            the same for each vCPU thread's cpuset cgroup
                                            (v1 or v2, found through /proc/TID/cgroup)
    truth.py moved BEFORE AFTER NAME [--homes ...] [--min F]
                                            prints "MOVED NEED": bytes that arrived on a node
                                            between the snapshots, and bytes that had to arrive
                                            on each cell's home for it to be >= F (0.95) local
    truth.py same BEFORE AFTER NAME... [--tolerance BYTES]
                                            no pin changed, no cell's bytes on any node changed
                                            by more than BYTES (0)
    truth.py interleave SNAP NAME NODES [--tolerance F]
                                            every cell split evenly over NODES (each share
                                            within F (0.05) of 1/len), nothing elsewhere
    truth.py node-busy SECONDS              busy CPUs per node over SECONDS, from /proc/stat:
                                            "B0 B1 ..." in node order
    truth.py node-cpus NODE                 the number of CPUs of NODE

Checks print one line per cell or vCPU, a line naming what was expected and what was seen
for each failure, and exit 1 when anything failed."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from vnumatest import numa_maps_node_bytes  # noqa: E402

NODE_DIR = "/sys/devices/system/node"
PRESENT_MIN = 0.9  # a prealloc'd cell has at least this share of its size in numa_maps
MIB = 1 << 20


def ids(text):
    """The set of ids of a kernel list such as "0-2,5" (empty text: empty set)."""
    out = set()
    for part in text.strip().split(","):
        if part:
            lo, _, hi = part.partition("-")
            out.update(range(int(lo), int(hi or lo) + 1))
    return out


def ids_text(s):
    return ",".join(str(i) for i in sorted(s)) or "(none)"


def node_cpus(node):
    """The CPUs of host node NODE, from sysfs."""
    with open(f"{NODE_DIR}/node{node}/cpulist") as f:
        return ids(f.read())


def online_nodes():
    with open(f"{NODE_DIR}/online") as f:
        return sorted(ids(f.read()))


def vma_node_bytes(pid, start, end):
    """Bytes per node (str) of the VMAs inside [start, end), from /proc/PID/{maps,numa_maps}."""
    return {str(n): b for n, b in numa_maps_node_bytes(pid, start, end).items()}


def thread_cpus(pid, tid):
    """A thread's allowed CPUs, as the scheduler has them."""
    with open(f"/proc/{pid}/task/{tid}/status") as f:
        for line in f:
            if line.startswith("Cpus_allowed_list:"):
                return ids(line.split(":", 1)[1])
    raise ValueError(f"no Cpus_allowed_list in /proc/{pid}/task/{tid}/status")


def _cgroup_mounts():
    """(cpuset v1 mount or None, cgroup2 mount or None), with each mount's root, from mountinfo."""
    v1 = v2 = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fields, post = pre.split(), post.split()
            root, mnt, fstype, opts = fields[3], fields[4], post[0], post[2].split(",")
            if fstype == "cgroup" and "cpuset" in opts and v1 is None:
                v1 = (root, mnt)
            elif fstype == "cgroup2" and v2 is None:
                v2 = (root, mnt)
    return v1, v2


def _under(mount, path):
    root, mnt = mount
    if root != "/" and path.startswith(root):
        path = path[len(root):]
    return os.path.join(mnt, path.lstrip("/"))


def cgroup_cpuset(pid, tid):
    """(directory, version) of the cpuset cgroup a thread is in: the v1 cpuset hierarchy's line
    of /proc/PID/task/TID/cgroup, else the unified one if it has the cpuset controller."""
    v1, v2 = _cgroup_mounts()
    with open(f"/proc/{pid}/task/{tid}/cgroup") as f:
        lines = [ln.rstrip("\n").split(":", 2) for ln in f]
    for hid, ctrls, path in lines:
        if hid != "0" and "cpuset" in ctrls.split(",") and v1:
            return _under(v1, path), 1
    for hid, ctrls, path in lines:
        if hid == "0" and v2:
            d = _under(v2, path)
            if os.path.exists(os.path.join(d, "cpuset.cpus")):
                return d, 2
    raise ValueError(f"thread {tid} has no cpuset cgroup (/proc/{pid}/task/{tid}/cgroup: {lines})")


def cgroup_cpus(pid, tid):
    """{file: CPU set} of a thread's cpuset cgroup: the configured CPUs and the effective ones."""
    d, version = cgroup_cpuset(pid, tid)
    names = ("cpuset.cpus", "cpuset.effective_cpus") if version == 1 else ("cpuset.cpus", "cpuset.cpus.effective")
    out = {}
    for n in names:
        p = os.path.join(d, n)
        if os.path.exists(p):
            with open(p) as f:
                out[p] = ids(f.read())
    return out


def domain(doc, name):
    for d in doc["domains"]:
        if d["name"] == name:
            return d
    sys.exit(f"FAIL: {name} is not in the address map (has {[d['name'] for d in doc['domains']]})")


def cell_node_bytes(dom):
    """{cell id: {node (str): bytes}} of a `vnumactl show --json` domain, from numa_maps."""
    out = {}
    for g in dom["guest_nodes"]:
        per = {}
        for r in g["hva_ranges"]:
            for n, b in vma_node_bytes(dom["pid"], r["start"], r["end"]).items():
                per[n] = per.get(n, 0) + b
        out[g["id"]] = per
    return out


def snapshot(doc, names):
    guests = {}
    for name in names:
        d = domain(doc, name)
        nb = cell_node_bytes(d)
        guests[name] = {
            "pid": d["pid"],
            "cells": [{"id": g["id"], "size": g["size_bytes"], "nodes": nb[g["id"]]} for g in d["guest_nodes"]],
            "vcpus": [{"index": v["index"], "tid": v["tid"], "cell": v["guest_node"],
                       "cpus": sorted(thread_cpus(d["pid"], v["tid"]))} for v in d["vcpus"]],
        }
    return {"node_cpus": {str(n): sorted(node_cpus(n)) for n in online_nodes()}, "guests": guests}


# --- verdicts on snapshots -----------------------------------------------------------------------

def mib(nodes):
    return "{" + ", ".join(f"N{k}: {v / MIB:.1f}" for k, v in sorted(nodes.items())) + "} MiB"


def home_of(cell):
    """The node holding most of a cell, or None when nothing of it is present."""
    nodes = cell["nodes"]
    return max(sorted(nodes), key=lambda n: nodes[n]) if any(nodes.values()) else None


def homes_arg(args):
    """--homes H0,H1,... (node per cell id) out of args; None when not given."""
    if "--homes" not in args:
        return None
    i = args.index("--homes")
    homes = [h.strip() for h in args[i + 1].split(",")]
    del args[i:i + 2]
    return homes


def float_arg(args, opt, default):
    if opt not in args:
        return default
    i = args.index(opt)
    v = float(args[i + 1])
    del args[i:i + 2]
    return v


def wanted_home(cell, homes):
    return homes[cell["id"]] if homes else home_of(cell)


class Verdict:
    def __init__(self):
        self.failed = False

    def fail(self, text):
        print(f"  FAIL: {text}")
        self.failed = True

    def exit(self):
        sys.exit(1 if self.failed else 0)


def present_ok(v, name, c):
    present = sum(c["nodes"].values())
    if present < PRESENT_MIN * c["size"]:
        v.fail(f"{name} cell {c['id']}: expected >= {PRESENT_MIN:.0%} of its {c['size'] / MIB:.0f} MiB "
               f"present in numa_maps, saw {present / MIB:.1f} MiB")
    return present


def cmd_show(snap):
    for name, g in snap["guests"].items():
        for c in g["cells"]:
            present = sum(c["nodes"].values())
            h = home_of(c)
            share = c["nodes"].get(h, 0) / present if present else 0
            print(f"  {name} cell {c['id']}: numa_maps {mib(c['nodes'])}, most on node {h} ({share:.1%})")
        for vc in g["vcpus"]:
            print(f"  {name} vCPU {vc['index']} (cell {vc['cell']}, tid {vc['tid']}): "
                  f"Cpus_allowed_list {ids_text(vc['cpus'])}")


def cmd_on_node(snap, node, names, minimum):
    v = Verdict()
    for name in names:
        for c in snap["guests"][name]["cells"]:
            present = present_ok(v, name, c)
            on = c["nodes"].get(node, 0)
            print(f"  {name} cell {c['id']}: {on / MIB:.1f} of {present / MIB:.1f} MiB on node {node}, "
                  f"numa_maps {mib(c['nodes'])}")
            if on < minimum * present:
                v.fail(f"{name} cell {c['id']}: expected >= {minimum:.1%} on node {node}, "
                       f"saw {on / max(present, 1):.1%} ({mib(c['nodes'])})")
    v.exit()


def cmd_local(snap, minimum, names, homes):
    v = Verdict()
    for name in names:
        for c in snap["guests"][name]["cells"]:
            present = present_ok(v, name, c)
            h = wanted_home(c, homes)
            share = c["nodes"].get(h, 0) / present if present else 0
            print(f"  {name} cell {c['id']}: {share:.1%} on node {h}{'' if homes else ' (where most of it is)'}, "
                  f"numa_maps {mib(c['nodes'])}")
            if share < minimum:
                v.fail(f"{name} cell {c['id']}: expected >= {minimum:.0%} on node {h}, saw {share:.1%}")
    v.exit()


def cmd_distinct(snap, name):
    v = Verdict()
    hs = {c["id"]: home_of(c) for c in snap["guests"][name]["cells"]}
    print(f"  {name}: cell -> node holding most of it: {hs}")
    if len(set(hs.values())) != len(hs):
        v.fail(f"{name}: expected each cell on its own node, saw {hs}")
    v.exit()


def cmd_pinned(snap, names, homes, cgroup=False):
    v = Verdict()
    for name in names:
        g = snap["guests"][name]
        cells = {c["id"]: c for c in g["cells"]}
        for vc in g["vcpus"]:
            h = wanted_home(cells[vc["cell"]], homes)
            want = set(snap["node_cpus"].get(str(h), [])) if h is not None else set()
            seen = {"Cpus_allowed_list": set(vc["cpus"])}
            if cgroup:
                try:
                    seen = cgroup_cpus(g["pid"], vc["tid"])
                except (OSError, ValueError) as e:
                    v.fail(f"{name} vCPU {vc['index']}: no cpuset cgroup to read ({e})")
                    continue
            for what, got in seen.items():
                good = bool(want) and got == want
                print(f"  {name} vCPU {vc['index']} (cell {vc['cell']}, tid {vc['tid']}): {what} {ids_text(got)}, "
                      f"node {h} CPUs {ids_text(want)}")
                if not good:
                    v.fail(f"{name} vCPU {vc['index']}: expected {what} = node {h}'s CPUs {ids_text(want)}, "
                           f"saw {ids_text(got)}")
            if cgroup and not seen:
                v.fail(f"{name} vCPU {vc['index']}: its cpuset cgroup has no cpuset.cpus")
    v.exit()


def cmd_moved(before, after, name, homes, minimum):
    b = {c["id"]: c for c in before["guests"][name]["cells"]}
    moved = need = 0
    for c in after["guests"][name]["cells"]:
        old = b[c["id"]]["nodes"]
        h = wanted_home(c, homes)
        arrived = sum(max(0, n - old.get(k, 0)) for k, n in c["nodes"].items())
        present = sum(c["nodes"].values())
        must = max(0, int(minimum * present) - old.get(h, 0))
        print(f"  {name} cell {c['id']}: home node {h}, before {mib(old)}, after {mib(c['nodes'])}: "
              f"{arrived / MIB:.1f} MiB arrived, {must / MIB:.1f} MiB had to", file=sys.stderr)
        moved += arrived
        need += must
    print(moved, need)


def cmd_same(before, after, names, tolerance):
    v = Verdict()
    for name in names:
        gb, ga = before["guests"][name], after["guests"][name]
        b = {c["id"]: c["nodes"] for c in gb["cells"]}
        for c in ga["cells"]:
            old = b[c["id"]]
            diff = {k: c["nodes"].get(k, 0) - old.get(k, 0) for k in set(old) | set(c["nodes"])}
            worst = max((abs(d) for d in diff.values()), default=0)
            print(f"  {name} cell {c['id']}: {mib(old)} -> {mib(c['nodes'])}")
            if worst > tolerance:
                v.fail(f"{name} cell {c['id']}: expected no node to gain or lose more than {tolerance} bytes, "
                       f"saw {worst} ({mib(old)} -> {mib(c['nodes'])})")
        pb = {vc["index"]: vc["cpus"] for vc in gb["vcpus"]}
        for vc in ga["vcpus"]:
            print(f"  {name} vCPU {vc['index']}: Cpus_allowed_list {ids_text(pb.get(vc['index'], []))} -> "
                  f"{ids_text(vc['cpus'])}")
            if pb.get(vc["index"]) != vc["cpus"]:
                v.fail(f"{name} vCPU {vc['index']}: expected its pin to stay {ids_text(pb.get(vc['index'], []))}, "
                       f"saw {ids_text(vc['cpus'])}")
    v.exit()


def cmd_interleave(snap, name, nodes, tolerance):
    v = Verdict()
    even = 1 / len(nodes)
    for c in snap["guests"][name]["cells"]:
        present = present_ok(v, name, c)
        shares = {n: c["nodes"].get(n, 0) / max(present, 1) for n in nodes}
        elsewhere = sum(b for n, b in c["nodes"].items() if n not in nodes)
        print(f"  {name} cell {c['id']}: numa_maps {mib(c['nodes'])}, shares "
              + ", ".join(f"N{n} {s:.1%}" for n, s in shares.items()))
        for n, s in shares.items():
            if abs(s - even) > tolerance:
                v.fail(f"{name} cell {c['id']}: expected node {n}'s share within {tolerance:.0%} of {even:.0%}, "
                       f"saw {s:.1%}")
        if elsewhere:
            v.fail(f"{name} cell {c['id']}: expected nothing outside nodes {','.join(nodes)}, "
                   f"saw {elsewhere / MIB:.1f} MiB there")
    v.exit()


def load(path):
    with open(path) as f:
        return json.load(f)


def node_cpus(node):
    with open(os.path.join(NODE_DIR, "node%s" % node, "cpulist")) as f:
        return ids(f.read())


def cpu_times():
    """Per CPU: (busy, all) jiffies; busy is all but idle and iowait."""
    t = {}
    with open("/proc/stat") as f:
        for line in f:
            w = line.split()
            if w[0].startswith("cpu") and w[0] != "cpu":
                v = [int(x) for x in w[1:]]
                t[int(w[0][3:])] = (sum(v) - v[3] - v[4], sum(v))
    return t


def cmd_node_busy(seconds):
    with open(os.path.join(NODE_DIR, "online")) as f:
        nodes = sorted(ids(f.read()))
    cpus = [node_cpus(n) for n in nodes]
    a = cpu_times()
    time.sleep(seconds)
    b = cpu_times()
    out = []
    for cs in cpus:
        busy = sum(b[c][0] - a[c][0] for c in cs)
        total = sum(b[c][1] - a[c][1] for c in cs)
        out.append("%.2f" % (len(cs) * busy / total if total else 0))
    print(" ".join(out))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    homes = homes_arg(args)
    if cmd == "snapshot":
        json.dump(snapshot(load(args[0]), args[1:]), sys.stdout)
        print()
    elif cmd == "show":
        cmd_show(load(args[0]))
    elif cmd == "on-node":
        minimum = float_arg(args, "--min", 0.98)
        cmd_on_node(load(args[0]), args[1], args[2:], minimum)
    elif cmd == "local":
        cmd_local(load(args[0]), float(args[1]), args[2:], homes)
    elif cmd == "homes":
        for c in load(args[0])["guests"][args[1]]["cells"]:
            print(c["id"], home_of(c))
    elif cmd == "distinct":
        cmd_distinct(load(args[0]), args[1])
    elif cmd in ("pinned", "cgroup-pinned"):
        cmd_pinned(load(args[0]), args[1:], homes, cgroup=cmd == "cgroup-pinned")
    elif cmd == "moved":
        minimum = float_arg(args, "--min", 0.95)
        cmd_moved(load(args[0]), load(args[1]), args[2], homes, minimum)
    elif cmd == "same":
        tolerance = float_arg(args, "--tolerance", 0)
        cmd_same(load(args[0]), load(args[1]), args[2:], tolerance)
    elif cmd == "node-busy":
        cmd_node_busy(float(args[0]))
    elif cmd == "node-cpus":
        print(len(node_cpus(args[0])))
    elif cmd == "interleave":
        tolerance = float_arg(args, "--tolerance", 0.05)
        cmd_interleave(load(args[0]), args[1], args[2].split(","), tolerance)
    else:
        sys.exit(f"truth.py: unknown command '{cmd}'\n\n{__doc__}")


if __name__ == "__main__":
    main()
