#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Issue 13, defect 6: vnumad never moves a QEMU out of its cgroup. A real QEMU runs in a
systemd-style cgroup the test creates (vnumatest-PID.scope in the cpuset hierarchy, v1 or v2, and
in the name=systemd hierarchy where there is one); vnumad runs it under strict, then interleave,
then auto. Judged from /proc/QEMU_PID/cgroup, the cgroup's own cpuset files and each thread's
Cpus_allowed_list/Mems_allowed_list, never from vnumad's word.

There is no systemd on the test machine: vnumad finds the unit, cannot ask systemd, and must say
that the policy is enforced by migration only. Where systemd is PID 1 the same checks would run
with systemd-run --scope; that path (the D-Bus calls) is exercised in the lab, not here."""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from qemu_guest import Guest, skip_without_qemu  # noqa: E402
from vnumatest import Daemon, Failures, status, wait_for  # noqa: E402

CG = "/sys/fs/cgroup"


def read(path):
    with open(path) as f:
        return f.read()


def cpuset_root():
    """(mount, version) of the hierarchy with the cpuset controller, or None."""
    if os.path.exists(os.path.join(CG, "cgroup.controllers")):
        return (CG, 2) if "cpuset" in read(os.path.join(CG, "cgroup.controllers")).split() else None
    if os.path.exists(os.path.join(CG, "cpuset", "cpuset.mems")):
        return os.path.join(CG, "cpuset"), 1
    return None


def make_cgroups(name):
    """The test's cgroups: [(dir, is_cpuset)]."""
    mount, version = cpuset_root()
    made = []
    d = os.path.join(mount, name)
    os.mkdir(d)
    made.append((d, True))
    if version == 1:  # a new v1 cpuset is empty and takes no task until both are set
        for f in ("cpuset.cpus", "cpuset.mems"):
            with open(os.path.join(d, f), "w") as out:
                out.write(read(os.path.join(mount, f)).strip())
    else:
        with open(os.path.join(CG, "cgroup.subtree_control"), "w") as out:
            out.write("+cpuset")
    sd = os.path.join(CG, "systemd")
    if os.path.exists(os.path.join(sd, "cgroup.procs")) and version == 1:
        os.mkdir(os.path.join(sd, name))
        made.append((os.path.join(sd, name), False))
    return made


def cpuset_files(d):
    return {f: read(os.path.join(d, f)).strip() for f in ("cpuset.cpus", "cpuset.mems")}


def listing(path):
    """Every directory below path (None if path does not exist)."""
    if not os.path.isdir(path):
        return None
    return sorted(os.path.relpath(dp, path) for dp, _, _ in os.walk(path))


def thread_allowed(pid):
    out = {}
    for tid in sorted(os.listdir("/proc/%d/task" % pid)):
        try:
            lines = read("/proc/%d/task/%s/status" % (pid, tid)).splitlines()
        except FileNotFoundError:
            continue
        out[tid] = tuple(ln for ln in lines if ln.startswith(("Cpus_allowed_list", "Mems_allowed_list")))
    return out


def main():
    skip_without_qemu()
    if os.geteuid() != 0:
        print("SKIP: needs root to create cgroups")
        sys.exit(77)
    if cpuset_root() is None:
        print("SKIP: no cpuset controller mounted")
        sys.exit(77)
    t = Failures()
    work = tempfile.mkdtemp(prefix="vnuma-cgroups-")
    name = "vnumatest-%d.scope" % os.getpid()
    made = make_cgroups(name)
    cg_dir = made[0][0]
    # What older vnumads (or other tests) left there is not this run's doing: compare with it.
    slices = [os.path.join(m, "vnumad.slice") for m in (cpuset_root()[0], os.path.join(CG, "systemd"))]
    slices_before = {p: listing(p) for p in slices}
    qmp_dir = os.path.join(work, "qmp.d")
    os.makedirs(qmp_dir)
    g_dir = os.path.join(work, "g")
    os.makedirs(g_dir)
    conf = "[vm cgtest]\nmode = %s\nnodes = 0\n"
    try:
        with Guest(objects=["memory-backend-ram,id=m0,size=64M,prealloc=on",
                            "memory-backend-ram,id=m1,size=64M,prealloc=on"],
                   numa=["node,nodeid=0,memdev=m0,cpus=0", "node,nodeid=1,memdev=m1,cpus=1"],
                   smp="2", mem="128M", name="cgtest", workdir=g_dir) as g:
            for d, _ in made:
                with open(os.path.join(d, "cgroup.procs"), "w") as f:
                    f.write(str(g.pid))
            cgroup_before = read("/proc/%d/cgroup" % g.pid)
            t.check(name in cgroup_before, "QEMU is in the test's cgroup: %r" % cgroup_before)
            files_before = cpuset_files(cg_dir)
            allowed_before = thread_allowed(g.pid)
            # Moved into the watched directory (QEMU keeps listening on a renamed socket): vnumad
            # refuses a symbolic link there, and names the VM after the socket's file name.
            moved = os.path.join(qmp_dir, "cgtest.qmp")
            os.rename(g.qmp_path, moved)
            g.qmp_path = moved

            def unchanged(when):
                t.check(read("/proc/%d/cgroup" % g.pid) == cgroup_before,
                        "%s: QEMU still in its cgroup: %r" % (when, read("/proc/%d/cgroup" % g.pid)))
                t.check(cpuset_files(cg_dir) == files_before,
                        "%s: the cgroup's cpuset files as the test wrote them: %s" % (when, cpuset_files(cg_dir)))
                t.check({p: listing(p) for p in slices} == slices_before, "%s: no vnumad.slice made" % when)

            d = Daemon(work, period_ms=200, config=conf % "strict", args=["--qmp-dir", qmp_dir])
            try:
                t.check(wait_for(lambda: any(v["name"] == "cgtest" for v in status(d.sock)["vms"]), 30)[0],
                        "guest discovered: %s" % d.text()[-2000:])
                notice = "VM cgtest: region policy enforced by vCPU pins and page migration only"
                ok, _ = wait_for(lambda: d.text().count(notice) >= 1, 30)
                t.check(ok, "strict: vnumad says the policy is enforced by migration only: %s" % d.text()[-3000:])
                t.check(name in d.text(), "the notice names the unit it found")
                unchanged("strict")

                mark = d.mark()
                t.check(d.reconfigure(conf % "interleave"), "reloaded with interleave")
                ok, _ = wait_for(lambda: notice in d.text(mark), 30)
                t.check(ok, "interleave: said again for the VM under its new policy: %s" % d.text(mark)[-3000:])
                unchanged("interleave")

                t.check(d.reconfigure(conf % "auto"), "reloaded with auto")
                p0 = status(d.sock)["period"]
                t.check(wait_for(lambda: status(d.sock)["period"] >= p0 + 5, 30)[0], "five periods under auto")
                unchanged("auto")
                # QEMU starts threads of its own meanwhile: each has what the main thread had before.
                after = thread_allowed(g.pid)
                t.check(set(after.values()) == {allowed_before[str(g.pid)]},
                        "auto: every thread's Cpus_allowed_list/Mems_allowed_list as before vnumad: %s vs %s"
                        % (after, allowed_before))
                t.check(d.text().count(notice) == 2, "said once per VM and policy: %d" % d.text().count(notice))
            finally:
                t.check(d.stop() == 0, "vnumad exits cleanly")
            unchanged("after vnumad")
    finally:
        for dd, _ in reversed(made):
            try:
                os.rmdir(dd)
            except OSError as e:
                print("cannot remove %s: %s" % (dd, e))
    t.done()


if __name__ == "__main__":
    main()
