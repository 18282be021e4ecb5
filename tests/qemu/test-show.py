#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vnumactl show --qmp against real QEMU TCG guests: everything the JSON says is checked
against what this test reads itself from /proc and from QEMU."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from qemu_guest import Guest, numa_maps_present, read_maps, skip_without_qemu  # noqa: E402
from vnumatest import Failures, ctl  # noqa: E402

MiB = 1 << 20


def check_domain(t, g, dom, expect):
    """expect: {cell_id: (size_bytes, vcpu set, backend, kind, [(backend, device)...])}"""
    pid = g.pid
    t.check(dom["pid"] == pid, "pid %s != QEMU pid %d" % (dom["pid"], pid))
    cells = {c["id"]: c for c in dom["guest_nodes"]}
    t.check(sorted(cells) == sorted(expect), "cells %s != %s" % (sorted(cells), sorted(expect)))

    # vCPUs: TIDs are QEMU threads named "CPU n/TCG", in the right cell.
    tasks = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
            tasks[int(tid)] = f.read().strip()
    for v in dom["vcpus"]:
        t.check(v["tid"] in tasks, "vCPU %d tid %d is not a thread of %d" % (v["index"], v["tid"], pid))
        if dom["name"] != "qmp":  # named guests run with debug-threads=on
            t.check(tasks.get(v["tid"]) == "CPU %d/TCG" % v["index"],
                    "vCPU %d tid %d has comm %r" % (v["index"], v["tid"], tasks.get(v["tid"])))
        with open("/proc/%d/task/%d/stat" % (pid, v["tid"])) as f:
            stat = f.read()
        # The vCPU thread is paused: its last CPU cannot change between our two reads.
        last_cpu = int(stat[stat.rindex(")") + 2:].split()[36])
        t.check(v["host_cpu"] == last_cpu, "vCPU %d host_cpu %s != stat %d" % (v["index"], v["host_cpu"], last_cpu))
        t.check(v["host_node"] == 0, "vCPU %d host_node %s on a one-node host" % (v["index"], v["host_node"]))
        want_cell = [c for c, e in expect.items() if v["index"] in e[1]]
        t.check(want_cell == [v["guest_node"]], "vCPU %d in cell %s, expected %s" % (v["index"], v["guest_node"],
                                                                                    want_cell))
        with open("/proc/%d/task/%d/status" % (pid, v["tid"])) as f:
            aff = [l.split(":", 1)[1].strip() for l in f if l.startswith("Cpus_allowed_list")][0]
        t.check(v["affinity"] == aff, "vCPU %d affinity %r != %r" % (v["index"], v["affinity"], aff))
    vcpu_tids = {v["tid"] for v in dom["vcpus"]}
    t.check(len(vcpu_tids) == sum(len(e[1]) for e in expect.values()), "vCPU count")
    other = {th["tid"] for th in dom["threads"]}
    t.check(other | vcpu_tids == set(tasks), "threads %s + vCPUs != /proc/PID/task %s" % (other, set(tasks)))
    t.check(not (other & vcpu_tids), "a vCPU thread listed as emulator thread")

    maps = read_maps(pid)
    for cid, (size, vcpus, backend, kind, regions) in expect.items():
        c = cells[cid]
        t.check(c["size_bytes"] == size, "cell %d size %d != %d" % (cid, c["size_bytes"], size))
        t.check(c["backend"] == backend, "cell %d backend %s != %s" % (cid, c["backend"], backend))
        t.check(c["backend_kind"] == kind, "cell %d kind %s != %s" % (cid, c["backend_kind"], kind))
        t.check([(r["backend"], r["device"]) for r in c["regions"]] == regions,
                "cell %d regions %s" % (cid, [(r["backend"], r["device"]) for r in c["regions"]]))
        t.check(len(c["hva_ranges"]) == len(regions), "cell %d: one HVA range per region" % cid)
        for rg, r in zip(c["regions"], c["hva_ranges"]):
            # The backend's host range lies inside /proc/PID/maps, with no gap.
            pos = r["start"]
            for s, e, perms, path in maps:
                if pos >= r["end"]:
                    break
                if s <= pos < e:
                    t.check(perms.startswith("rw"), "cell %d range %x in a %s mapping" % (cid, pos, perms))
                    if rg["kind"] == "memfd":
                        t.check(path.startswith("/memfd:memory-backend-memfd"), "memfd path %r" % path)
                    elif rg["kind"] == "file":
                        t.check(path.endswith(rg["backend"] + ".mem"), "file path %r" % path)
                    pos = e
            t.check(pos >= r["end"], "cell %d range %x-%x not covered by maps (stopped at %x)" %
                    (cid, r["start"], r["end"], pos))
            t.check(r["end"] - r["start"] == rg["size_bytes"], "range size")
        # Present bytes against numa_maps, within 1 %.
        present = sum(c["host_bytes"].values())
        numa = 0
        for r in c["hva_ranges"]:
            numa += sum(numa_maps_present(pid, r["start"], r["end"]).values())
        t.check(abs(present - numa) <= max(0.01 * max(numa, present), 8 * 4096),
                "cell %d present %d vs numa_maps %d" % (cid, present, numa))
        accounted = present + c["not_present_bytes"] + sum(c["unavailable_bytes"].values())
        t.check(accounted == size, "cell %d: %d bytes accounted of %d" % (cid, accounted, size))
        t.check(c["present_bytes"] == present, "present_bytes")
        if present:
            t.check(c["locality_ratio"] == 1.0, "cell %d locality %s on a one-node host" % (cid,
                                                                                           c["locality_ratio"]))
        else:
            t.check(c["locality_ratio"] is None, "locality of an empty cell must be null")
    return cells


def scenario_mixed_backends(t):
    """3 uneven cells: ram (prealloc), memfd (lazy), CPU-less file cell (prealloc), plus a pc-dimm."""
    with _mixed() as g:
        doc = json.loads(ctl(None, "show", "--json", "--qmp", g.qmp_path).stdout)
        t.check(doc["schema_version"] == 2 and doc["errors"] == [], "JSON schema_version and no errors")
        t.check(len(doc["domains"]) == 1, "one domain")
        dom = doc["domains"][0]
        t.check(dom["name"] == "mixed", "name %r" % dom["name"])
        cells = check_domain(t, g, dom, {
            0: (192 * MiB, {0, 1}, "m0", "ram", [("m0", None)]),
            1: (384 * MiB, {2, 3}, "m1", "memfd", [("m1", None), ("d0", "dimm0")]),
            2: (64 * MiB, set(), "m2", "file", [("m2", None)]),
        })
        # prealloc'd backends are present in full; the lazy memfd cell is almost all absent.
        t.check(sum(cells[0]["host_bytes"].values()) >= 190 * MiB, "m0 is prealloc'd")
        t.check(cells[1]["not_present_bytes"] >= 250 * MiB, "m1 (memfd, lazy) is mostly not present")
        t.check(cells[2]["host_bytes"]["0"] == 64 * MiB, "m2 file prealloc'd: %s" % cells[2]["host_bytes"])
        t.check(cells[1]["vcpus"] == "2-3" and cells[2]["vcpus"] == "", "vcpus strings")
        # gpa2hva from QEMU itself agrees with the reported range of m1.
        line = g.hmp("gpa2hva 0xc000000")
        t.check(("0x%x" % cells[1]["hva_ranges"][0]["start"]) in line, "gpa2hva %r" % line)
        # The table names every cell and the dimm.
        table = ctl(None, "show", "--qmp", g.qmp_path).stdout
        for word in ("Domain mixed", "m0", "m1+", "dimm0", "memfd", "file", "Local %", "CPU", "Affinity"):
            t.check(word in table, "table lacks %r" % word)


def _mixed():
    import tempfile
    d = tempfile.mkdtemp(prefix="vnuma-qemu-")
    mem = os.path.join(d, "m2.mem")
    return Guest(objects=["memory-backend-ram,id=m0,size=192M,prealloc=on",
                          "memory-backend-memfd,id=m1,size=256M",
                          "memory-backend-file,id=m2,size=64M,mem-path=%s,prealloc=on,share=on" % mem,
                          "memory-backend-ram,id=d0,size=128M,prealloc=on"],
                 numa=["node,nodeid=0,memdev=m0,cpus=0-1", "node,nodeid=1,memdev=m1,cpus=2-3",
                       "node,nodeid=2,memdev=m2"],
                 mem="512M,slots=2,maxmem=2G", extra=["-device", "pc-dimm,id=dimm0,memdev=d0,node=1"],
                 name="mixed", workdir=d)


def scenario_four_cells(t):
    """4 uneven cells, split below/above 4G RAM is not needed here; sparse vCPU spread."""
    with Guest(objects=["memory-backend-ram,id=a,size=64M,prealloc=on",
                        "memory-backend-memfd,id=b,size=96M,prealloc=on",
                        "memory-backend-ram,id=c,size=32M",
                        "memory-backend-memfd,id=d,size=128M"],
               numa=["node,nodeid=0,memdev=a,cpus=0", "node,nodeid=1,memdev=b,cpus=1-2",
                     "node,nodeid=2,memdev=c,cpus=3", "node,nodeid=3,memdev=d"],
               mem="320M", name=None) as g:
        doc = json.loads(ctl(None, "show", "--json", "--qmp", g.qmp_path).stdout)
        dom = doc["domains"][0]
        t.check(dom["name"] == "qmp", "a VM without -name is named after its socket: %r" % dom["name"])
        check_domain(t, g, dom, {
            0: (64 * MiB, {0}, "a", "ram", [("a", None)]),
            1: (96 * MiB, {1, 2}, "b", "memfd", [("b", None)]),
            2: (32 * MiB, {3}, "c", "ram", [("c", None)]),
            3: (128 * MiB, set(), "d", "memfd", [("d", None)]),
        })


def scenario_two_sockets(t):
    """Two guests in one call: both reported; a dead socket fails the call but not the others."""
    with Guest(objects=["memory-backend-ram,id=m0,size=64M,prealloc=on",
                        "memory-backend-ram,id=m1,size=64M,prealloc=on"],
               numa=["node,nodeid=0,memdev=m0,cpus=0-1", "node,nodeid=1,memdev=m1,cpus=2-3"],
               mem="128M", name="left") as a, \
         Guest(objects=["memory-backend-ram,id=m0,size=32M"],
               numa=["node,nodeid=0,memdev=m0,cpus=0-1"], smp="2", mem="32M", name="right") as b:
        p = ctl(None, "show", "--json", "--qmp", a.qmp_path, "--qmp", b.qmp_path)
        doc = json.loads(p.stdout)
        t.check([d["name"] for d in doc["domains"]] == ["left", "right"], "two domains")
        t.check(doc["domains"][0]["locality_ratio"] == 1.0, "left locality 1.0 on one node")
        p = ctl(None, "show", "--json", "--qmp", a.qmp_path, "--qmp", "/nonexistent/qmp.sock", check=False)
        t.check(p.returncode == 1, "a missing socket makes the exit status 1, got %d" % p.returncode)
        t.check("/nonexistent/qmp.sock" in p.stderr, "error names the socket: %r" % p.stderr)
        doc = json.loads(p.stdout)
        t.check(len(doc["domains"]) == 1, "the reachable VM is still reported")
        t.check([e["what"] for e in doc["errors"]] == ["/nonexistent/qmp.sock"] and
                "connect" in doc["errors"][0]["message"],
                "the dead socket is listed in errors[], not dropped: %r" % doc["errors"])


def scenario_split_below_above_4g(t):
    """q35 puts guest RAM beyond ~2.75 GiB above 4 GiB: one backend, two guest ranges, one host range."""
    with Guest(objects=["memory-backend-ram,id=big,size=3G", "memory-backend-ram,id=small,size=64M"],
               numa=["node,nodeid=0,memdev=big,cpus=0", "node,nodeid=1,memdev=small,cpus=1"],
               smp="2", mem="3136M", name="split") as g:
        mtree = g.hmp("info mtree -f")
        # The FlatView that serves AS "memory" (view numbering is not stable across runs).
        view = [v for v in mtree.split("FlatView #") if ' AS "memory",' in v][0]
        big_ranges = [l for l in view.splitlines() if l.rstrip().endswith(": big") or ": big @" in l]
        t.check(len(big_ranges) >= 2, "the 3 GiB backend is split in the guest: %s" % big_ranges)
        doc = json.loads(ctl(None, "show", "--json", "--qmp", g.qmp_path).stdout)
        check_domain(t, g, doc["domains"][0], {
            0: (3 << 30, {0}, "big", "ram", [("big", None)]),
            1: (64 * MiB, {1}, "small", "ram", [("small", None)]),
        })


def main():
    skip_without_qemu()
    t = Failures()
    for s in (scenario_mixed_backends, scenario_four_cells, scenario_two_sockets, scenario_split_below_above_4g):
        print("== " + s.__name__)
        s(t)
    t.done()


if __name__ == "__main__":
    main()
