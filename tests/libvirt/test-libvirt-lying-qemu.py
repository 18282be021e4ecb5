#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A libvirt domain whose QEMU lies about its vCPU threads (issue 13, defect 1): vnumad takes the
QEMU pid from libvirt, so vCPU thread ids that are not that pid's threads get the domain refused,
and the process they belong to is never touched.

The lie comes through libvirt's own monitor (vnumad queries QEMU with
virDomainQemuMonitorCommand): the lying domain's <emulator> is a wrapper that puts a relay in
front of the real QEMU's monitor (lying_monitor.py); once the domain runs, the relay has every
further command answered by an innocent QEMU this test started outside libvirt, with the
memory-backend ids libvirt uses: its vCPU threads, backends and addresses make a consistent lie
that a vnumad believing QEMU would act on. Both
domains carry a strict policy with vCPU pins, so an accepted VM would be acted on. Everything is judged by
readers vnumad does not control: `virsh qemu-monitor-command` (the lie is what libvirt
delivers), sched_getaffinity, /proc/TID/cgroup and /proc/PID/numa_maps of the innocent process,
`virsh vcpupin` and the kernel for the domains' real vCPUs, vnumad's log and `vnumactl status`."""
import hashlib
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "pylib"))
import libvirt_harness as lh  # noqa: E402
import lying_monitor  # noqa: E402
sys.path.insert(0, os.path.join(HERE, "..", "qemu"))
from qemu_guest import Guest  # noqa: E402
from vnumatest import Daemon, ctl, status, vm_of, wait_for  # noqa: E402

PERIOD_MS = 500
RETRY_PERIODS = 10  # QMP_RETRY_PERIODS: a refused domain is tried again after this many periods
POLICY = "<vnumad:policy xmlns:vnumad='%s' mode='strict' nodes='0' pin='vcpus'/>" % lh.NS
CPU0 = {0}

def start_innocent(work):
    """The process the lie names: a real QEMU of this test's, outside libvirt, with the NUMA
    command line vnumad would accept, its threads allowed on CPU 0 only (inherited) so that a pin
    would show. Returns it and its vCPU thread ids by vCPU index."""
    os.makedirs(os.path.join(work, "innocent"))
    saved = os.sched_getaffinity(0)
    os.sched_setaffinity(0, CPU0)
    try:
        g = Guest(objects=["memory-backend-ram,id=ram-node0,size=64M,prealloc=on",
                           "memory-backend-ram,id=ram-node1,size=64M,prealloc=on"],
                  numa=["node,nodeid=0,memdev=ram-node0,cpus=0", "node,nodeid=1,memdev=ram-node1,cpus=1"],
                  smp="2", mem="128M", name="innocent", workdir=os.path.join(work, "innocent"))
    finally:
        os.sched_setaffinity(0, saved)
    g.qmp("query-status")  # answered once QEMU is up: its RAM preallocated, its threads there
    tids, _ = wait_for(lambda: (lambda v: v if len(v) == 2 else None)(lh.vcpu_tids(g.pid)), 10)
    return g, [tids[i] for i in sorted(tids)] if tids else []


def placement(pid):
    """Each thread's affinity and cgroup, each VMA's memory policy and the nodes holding pages
    (numa_maps: an mbind or a migration shows there)."""
    threads = {}
    for tid in sorted(int(x) for x in os.listdir("/proc/%d/task" % pid)):
        with open("/proc/%d/task/%d/cgroup" % (pid, tid)) as f:
            threads[tid] = (sorted(os.sched_getaffinity(tid)), f.read())
    policies, nodes = {}, set()
    with open("/proc/%d/numa_maps" % pid) as f:
        for line in f:
            parts = line.split()
            policies[parts[0]] = parts[1]
            nodes.update(int(n) for n in re.findall(r"\bN(\d+)=", line))
    return {"threads": threads, "policies": policies, "nodes": sorted(nodes)}


def same_placement(t, label, before, after):
    t.check(sorted(after["threads"]) == sorted(before["threads"]),
            "%s: same threads %s -> %s" % (label, sorted(before["threads"]), sorted(after["threads"])))
    for tid, (aff, cg) in before["threads"].items():
        now = after["threads"].get(tid)
        t.check(now is not None and now[0] == aff,
                "%s: thread %d affinity %s -> %s" % (label, tid, aff, now and now[0]))
        t.check(now is not None and now[1] == cg, "%s: thread %d cgroup %s" %
                (label, tid, "unchanged" if now and now[1] == cg else "%r -> %r" % (cg, now and now[1])))
    changed = {a: (p, after["policies"].get(a)) for a, p in before["policies"].items()
               if a in after["policies"] and after["policies"][a] != p}
    t.check(not changed, "%s: memory policy of all %d VMAs unchanged%s" %
            (label, len(before["policies"]), (": changed " + str(changed)) if changed else ""))
    t.check(after["nodes"] == before["nodes"], "%s: pages on nodes %s -> %s" % (label, before["nodes"], after["nodes"]))


def vcpu_pins(name):
    """vCPU -> (virsh vcpupin, the real thread's affinity)."""
    pid = lh.qemu_pid(name)
    virsh = lh.virsh_vcpupin(name)
    return {v: (virsh.get(v), lh.thread_affinity(pid, tid)) for v, tid in sorted(lh.vcpu_tids(pid).items())}


def narrow(name):
    """vCPU 0 -> the last host CPU, vCPU 1 -> the first: a strict pin to node 0 widens them."""
    cpus = sorted(lh.host_cpus())
    lh.virsh("vcpupin", name, "0", str(cpus[-1]), "--live")
    lh.virsh("vcpupin", name, "1", str(cpus[0]), "--live")
    return {0: ({cpus[-1]}, {cpus[-1]}), 1: ({cpus[0]}, {cpus[0]})}


def monitor_cpus(name):
    """The vCPU thread ids QEMU reports through libvirt's monitor, as any libvirt client sees them."""
    out = lh.virsh("qemu-monitor-command", name, '{"execute":"query-cpus-fast"}').stdout
    return [c["thread-id"] for c in json.loads(out)["return"]]


def caps_cache_file(emulator):
    """libvirt caches the capabilities of each emulator path under the path's SHA-256."""
    return "/var/cache/libvirt/qemu/capabilities/%s.xml" % hashlib.sha256(emulator.encode()).hexdigest()


def run(t, work):
    os.chmod(work, 0o755)  # the wrapper runs as libvirt's qemu user
    mondir = os.path.join(work, "mon")
    os.mkdir(mondir)
    os.chmod(mondir, 0o1777)
    control, lie_file = os.path.join(work, "lie.ctl"), os.path.join(work, "lie.target")
    wrapper = os.path.join(work, "qemu-lying")
    lying_monitor.write_wrapper(wrapper, lh.QEMU, control, mondir)
    relay_log = os.path.join(work, "relay.log")
    with open(relay_log, "w") as out:
        relay = subprocess.Popen([sys.executable, os.path.join(HERE, "lying_monitor.py"), "serve", control, lie_file],
                                 stdout=out, stderr=subprocess.STDOUT)
    innocent, tids = None, []
    doms = lh.Domains(work)
    d = None
    try:
        t.check(wait_for(lambda: "ready" in open(relay_log).read(), 10)[0] is not None, "relay listens")
        innocent, tids = start_innocent(work)
        t.check(len(tids) == 2, "innocent QEMU %d has vCPU threads %s" % (innocent.pid, tids))
        before = placement(innocent.pid)
        t.check(all(aff == [0] for aff, _ in before["threads"].values()),
                "innocent's threads start on CPU 0: %s" % {k: v[0] for k, v in before["threads"].items()})

        honest = doms.create(metadata=POLICY)
        honest_narrow = narrow(honest)
        t.check(vcpu_pins(honest) == honest_narrow, "honest %s: narrowed pins %s" % (honest, vcpu_pins(honest)))

        liar = doms.create(metadata=POLICY, emulator=wrapper)
        qpid = lh.qemu_pid(liar)
        with open("/proc/%d/comm" % qpid) as f:
            comm = f.read().strip()
        truth = monitor_cpus(liar)
        t.check(comm.startswith("qemu-system") and sorted(truth) == sorted(lh.vcpu_tids(qpid).values()),
                "liar %s: libvirt's pid %d is the real QEMU (%s), its monitor tells the truth so far: %s" %
                (liar, qpid, comm, truth))
        liar_narrow = narrow(liar)
        with open(lie_file, "w") as f:
            f.write(innocent.qmp_path)
        lie = monitor_cpus(liar)
        t.check(lie == tids, "through libvirt's monitor the liar now names the innocent's threads: %s" % lie)

        d = Daemon(work, "main", PERIOD_MS, libvirt_uri=lh.URI)
        v, w = wait_for(lambda: vm_of(status(d.sock), honest), 20)
        t.check(v is not None and v["pid"] == lh.qemu_pid(honest),
                "honest %s managed after %.1f s (pid %s)" % (honest, w, v and v["pid"]))
        st_text = ctl(d.sock, "status").stdout
        t.check(honest in st_text, "vnumactl status lists %s" % honest)
        # Positive control: the same policy, accepted, does act (the pins widen to node 0's CPUs).
        node0 = lh.node_cpus(0)
        want = {0: (node0, node0), 1: (node0, node0)}
        ok, w = wait_for(lambda: vcpu_pins(honest) == want, 20)
        t.check(ok is not None, "honest's strict policy pinned its vCPUs to node 0 (%.1f s): %s" %
                (w, vcpu_pins(honest)))

        reason = "Domain %s: refused: vCPU thread" % liar
        line, w = wait_for(lambda: [ln for ln in d.text().splitlines() if reason in ln], 20)
        t.check(line is not None, "liar refused after %.1f s" % w)
        line = (line or [""])[0]
        print("log: %s" % line)
        t.check(line.startswith("<4>"), "the refusal is a warning")
        t.check(any("vCPU thread %d " % x in line for x in tids) and "not a thread of pid %d" % qpid in line,
                "the line names the innocent thread and libvirt's pid %d" % qpid)

        # Several periods and a retry: the refusal stays, without another warning.
        p0 = status(d.sock)["period"]
        passed, _ = wait_for(lambda: status(d.sock)["period"] >= p0 + RETRY_PERIODS + 3,
                             (RETRY_PERIODS + 3) * PERIOD_MS / 1000 * 4)
        t.check(passed is not None, "%d periods passed (from %d to %d)" %
                (RETRY_PERIODS + 3, p0, status(d.sock)["period"]))
        t.check(vm_of(status(d.sock), liar) is None,
                "liar not managed: %s" % [x["name"] for x in status(d.sock)["vms"]])
        t.check(liar not in ctl(d.sock, "status").stdout, "vnumactl status does not list %s" % liar)
        warns = [ln for ln in d.text().splitlines() if liar in ln and ln.startswith("<4>")]
        t.check(len(warns) == 1, "one warning for %s: %s" % (liar, warns))
        t.check(d.proc.poll() is None and vm_of(status(d.sock), honest) is not None, "honest still managed")
        same_placement(t, "innocent", before, placement(innocent.pid))
        t.check(vcpu_pins(liar) == liar_narrow, "liar's real vCPU pins untouched: %s" % vcpu_pins(liar))
        if t.errors:
            print("---- vnumad log (tail) ----\n" + d.text()[-4000:] + "---- end of log ----")
            print("---- relay log ----\n" + open(relay_log).read()[-2000:] + "---- end of log ----")
    finally:  # each step even when one before it fails
        try:
            if d:
                t.check(d.stop() == 0, "vnumad: SIGTERM exit status")
        finally:
            try:
                doms.cleanup()
            finally:
                if innocent:
                    innocent.stop()
                relay.kill()
                relay.wait()
                try:
                    os.unlink(caps_cache_file(wrapper))
                except FileNotFoundError:
                    pass


def run_two_cpus(t, work):
    if os.cpu_count() < 2 or 0 not in os.sched_getaffinity(0):
        print("SKIP: needs CPU 0 and another CPU")
        sys.exit(77)
    run(t, work)


if __name__ == "__main__":
    lh.e2e_main(run_two_cpus, "vnumad-lvlie-")
