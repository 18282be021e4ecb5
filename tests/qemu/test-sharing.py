#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Each guest region's sharing in vnumactl --json show --qmp against what this test reads itself
from /proc/PID/smaps of a real QEMU TCG guest: a shared memfd, plain RAM, a shared file on a disk
file system (not tmpfs), a memfd with share=off and, where /dev/shm is a tmpfs we may write, a
shared file under /dev/shm. vnumad moves the pages of shared-memory regions with MPOL_MF_MOVE_ALL
and all others with MPOL_MF_MOVE (vnumad(8), SHARED BACKENDS)."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from qemu_guest import Guest, skip_without_qemu  # noqa: E402
from vnumatest import VNUMACTL, Failures, ctl  # noqa: E402

MiB = 1 << 20
PAGE = os.sysconf("SC_PAGE_SIZE")


def fs_type(path):
    return subprocess.run(["stat", "-f", "-c", "%T", path], capture_output=True, text=True,
                          check=True).stdout.strip()


def disk_dir():
    """A directory on a disk file system: /var/tmp, else the build directory."""
    for d in ("/var/tmp", os.getcwd(), os.path.dirname(os.path.abspath(VNUMACTL))):
        if os.path.isdir(d) and os.access(d, os.W_OK) and fs_type(d) not in ("tmpfs", "ramfs"):
            return d
    return None


def read_smaps(pid):
    """[(start, end, perms, path, kernel_page_size)] from /proc/PID/smaps."""
    out = []
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            head = line.split(None, 5)
            if "-" in head[0] and len(head) >= 5 and ":" not in head[0]:
                start, end = (int(x, 16) for x in head[0].split("-"))
                out.append([start, end, head[1], head[5].rstrip("\n") if len(head) > 5 else "", 0])
            elif line.startswith("KernelPageSize:"):
                out[-1][4] = int(line.split()[1]) * 1024
    return out


def covering(smaps, start, end):
    maps = [m for m in smaps if m[0] < end and m[1] > start]
    pos = start
    for m in maps:
        if m[0] > pos:
            return None
        pos = m[1]
    return maps if pos >= end else None


def expected_class(maps):
    """The rule of vnumad(8), applied to what the kernel shows; the most conservative wins."""
    rank = {"shared-memory": 0, "private": 1, "shared-file": 2}
    worst = "shared-memory"
    for _, _, perms, path, kps in maps:
        if perms[3] != "s":
            c = "private"
        elif kps > PAGE or (path.startswith("/memfd:") and path.endswith(" (deleted)")) or \
                path.startswith("/dev/shm/"):
            c = "shared-memory"
        else:
            c = "shared-file"
        if rank[c] > rank[worst]:
            worst = c
    return worst


def scenario_backends(t):
    d = disk_dir()
    if not t.check(d is not None, "a writable directory on a disk file system (/var/tmp or the build dir)"):
        return
    work = tempfile.mkdtemp(prefix="vnuma-share-", dir=d)
    fs = fs_type(work)
    t.check(fs not in ("tmpfs", "ramfs"), "%s is on %s, not tmpfs" % (work, fs))
    disk_file = os.path.join(work, "m2.mem")
    objects = ["memory-backend-memfd,id=m0,size=64M,share=on,prealloc=on",
               "memory-backend-ram,id=m1,size=64M,prealloc=on",
               "memory-backend-file,id=m2,size=64M,mem-path=%s,share=on,prealloc=on" % disk_file,
               "memory-backend-memfd,id=m3,size=32M,share=off"]
    numa = ["node,nodeid=0,memdev=m0,cpus=0", "node,nodeid=1,memdev=m1,cpus=1",
            "node,nodeid=2,memdev=m2,cpus=2", "node,nodeid=3,memdev=m3,cpus=3"]
    want = {"m0": "shared-memory", "m1": "private", "m2": "shared-file", "m3": "private"}
    size = 224
    shm_file = None
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) and fs_type("/dev/shm") == "tmpfs":
        shm_file = "/dev/shm/vnuma-share-%d.mem" % os.getpid()
        objects.append("memory-backend-file,id=m4,size=32M,mem-path=%s,share=on" % shm_file)
        numa.append("node,nodeid=4,memdev=m4")
        want["m4"] = "shared-memory"
        size += 32
    else:
        print("note: no writable tmpfs /dev/shm; the /dev/shm case is left out")
    try:
        with Guest(objects=objects, numa=numa, smp="4", mem="%dM" % size, name="sharing", workdir=work) as g:
            p = ctl(None, "--json", "show", "--qmp", g.qmp_path)
            dom = json.loads(p.stdout)["domains"][0]
            smaps = read_smaps(g.pid)
            regions = {rg["backend"]: rg for c in dom["guest_nodes"] for rg in c["regions"]}
            t.check(sorted(regions) == sorted(want), "regions %s" % sorted(regions))
            for b, cls in sorted(want.items()):
                rg = regions.get(b)
                if not rg:
                    continue
                maps = covering(smaps, rg["hva_start"], rg["hva_end"])
                if not t.check(maps is not None, "%s: %x-%x covered by smaps" % (b, rg["hva_start"], rg["hva_end"])):
                    continue
                perms = {m[2] for m in maps}
                paths = {m[3] for m in maps}
                # What the kernel says, read here, for each backend kind.
                if b == "m0":
                    t.check(perms == {"rw-s"} and all(p.startswith("/memfd:") and p.endswith(" (deleted)")
                                                      for p in paths), "m0 smaps: shared memfd %s %s" % (perms, paths))
                elif b == "m1":
                    t.check(perms == {"rw-p"} and paths <= {""}, "m1 smaps: private anonymous %s %s" % (perms, paths))
                elif b == "m2":
                    t.check(perms == {"rw-s"} and paths == {disk_file}, "m2 smaps: shared %s %s" % (perms, paths))
                elif b == "m3":
                    t.check(perms == {"rw-p"} and all(p.startswith("/memfd:") for p in paths),
                            "m3 smaps: private memfd %s %s" % (perms, paths))
                elif b == "m4":
                    t.check(perms == {"rw-s"} and paths == {shm_file}, "m4 smaps: shared /dev/shm %s %s" %
                            (perms, paths))
                t.check(expected_class(maps) == cls, "%s: the rule on smaps gives %s" % (b, expected_class(maps)))
                t.check(rg["sharing"] == cls, "%s: vnumactl says sharing %r, smaps says %r" % (b, rg["sharing"], cls))
            # The table names each class too.
            table = ctl(None, "show", "--qmp", g.qmp_path).stdout
            t.check("Sharing" in table, "the table has a Sharing column")
            for cls in set(want.values()):
                t.check(cls in table, "the table shows %s:\n%s" % (cls, table))
    finally:
        if shm_file and os.path.exists(shm_file):
            os.unlink(shm_file)
        if os.path.isdir(work):
            subprocess.run(["rm", "-rf", work])


def main():
    skip_without_qemu()
    t = Failures()
    for s in (scenario_backends,):
        print("== " + s.__name__)
        s(t)
    t.done()


if __name__ == "__main__":
    main()
