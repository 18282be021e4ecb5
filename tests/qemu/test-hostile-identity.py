#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A QEMU that lies (issue 13): vnumad acts only on the process the kernel says serves a QMP
socket, and names a VM after its socket, never after what QEMU says.

Every check is made with readers vnumad does not control: sched_getaffinity, /proc/TID/cgroup,
/proc/PID/numa_maps, the log it writes and what vnumactl prints. The QEMUs start with their
affinity cut to CPU 0, so a vCPU pin by a strict policy (to node 0's CPUs, all of them on this
one-node machine) is visible; scenario_impostor shows it is, for the VM that owns the policy."""
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "pylib"))
from qemu_guest import Guest, skip_without_qemu  # noqa: E402
from scripted_peer import ScriptedPeer  # noqa: E402
from vnumatest import VNUMACTL, VNUMAD, Daemon, ctl, run_scenarios, status, wait_for  # noqa: E402

CPU0 = {0}
STRICT_CONF = "[daemon]\nperiod = 200ms\n[policy]\nmode = observe\n[vm %s]\nmode = strict\nnodes = 0\n"


def guest(name, workdir, qemu_name=None):
    """A two-cell guest whose threads may only run on CPU 0 (inherited from this process)."""
    os.makedirs(workdir, exist_ok=True)
    saved = os.sched_getaffinity(0)
    os.sched_setaffinity(0, CPU0)
    try:
        return Guest(objects=["memory-backend-ram,id=m0,size=64M,prealloc=on",
                              "memory-backend-ram,id=m1,size=64M,prealloc=on"],
                     numa=["node,nodeid=0,memdev=m0,cpus=0", "node,nodeid=1,memdev=m1,cpus=1"],
                     smp="2", mem="128M", name=qemu_name if qemu_name is not None else name, workdir=workdir)
    finally:
        os.sched_setaffinity(0, saved)


def tasks(pid):
    return sorted(int(t) for t in os.listdir("/proc/%d/task" % pid))


def numa_policies(pid):
    """VMA start -> memory policy, from numa_maps: an mbind or a migration policy shows here."""
    out = {}
    with open("/proc/%d/numa_maps" % pid) as f:
        for line in f:
            parts = line.split()
            out[parts[0]] = parts[1]
    return out


def node_bytes(pid):
    """Pages per node over all VMAs (N<node>=<pages> fields)."""
    total = {}
    with open("/proc/%d/numa_maps" % pid) as f:
        for line in f:
            for m in re.finditer(r"\bN(\d+)=(\d+)", line):
                total[int(m.group(1))] = total.get(int(m.group(1)), 0) + int(m.group(2))
    return total


def placement(pid):
    """What vnumad could have changed about a process: each thread's affinity and cgroup, and its
    memory's policies. Read from the kernel."""
    threads = {}
    for tid in tasks(pid):
        try:
            with open("/proc/%d/task/%d/cgroup" % (pid, tid)) as f:
                cg = f.read()
            threads[tid] = (sorted(os.sched_getaffinity(tid)), cg)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return {"threads": threads, "policies": numa_policies(pid), "nodes": sorted(node_bytes(pid))}


def same_placement(t, label, before, after):
    for tid, (aff, cg) in before["threads"].items():
        if tid not in after["threads"]:
            continue
        t.check(after["threads"][tid][0] == aff, "%s: thread %d affinity %s -> %s" % (label, tid, aff, after["threads"][tid][0]))
        t.check(after["threads"][tid][1] == cg, "%s: thread %d cgroup %r -> %r" % (label, tid, cg, after["threads"][tid][1]))
    changed = [a for a, p in before["policies"].items() if a in after["policies"] and after["policies"][a] != p]
    t.check(not changed, "%s: memory policy changed at %s" % (label, changed))
    t.check(after["nodes"] == before["nodes"], "%s: pages on nodes %s -> %s" % (label, before["nodes"], after["nodes"]))


def periods_pass(d, n):
    p0 = status(d.sock)["period"]
    return wait_for(lambda: status(d.sock)["period"] >= p0 + n, 30)[0] is not None


def scenario_relay(t, work):
    """(a) A relay process serves the socket; the QEMU behind it is innocent. SO_PEERCRED names
    the relay, the vCPU threads are the QEMU's: refused, and the QEMU is not touched."""
    innocent = guest("innocent", os.path.join(work, "innocent"))
    relay_path = os.path.join(work, "relay.qmp")
    relay = subprocess.Popen([sys.executable, os.path.join(HERE, "qmp_relay.py"), relay_path, innocent.qmp_path],
                             stdout=subprocess.PIPE, text=True)
    d = None
    try:
        t.check(relay.stdout.readline().strip() == "ready", "relay listens")
        # The relay works: through it, QMP reaches the innocent QEMU.
        before = placement(innocent.pid)
        t.check(all(aff == [0] for aff, _ in before["threads"].values()), "innocent starts on CPU 0: %s" % before["threads"])
        # Every VM strict by default: whatever name it got, an accepted VM would be pinned.
        d = Daemon(work, config="[daemon]\nperiod = 200ms\n[policy]\nmode = strict\nnodes = 0\n",
                   args=["--qmp", relay_path])
        reason = "relay.qmp: refused: vCPU thread"
        t.check(wait_for(lambda: reason in d.text())[0], "refused with a reason: %s" % d.text()[-2000:])
        line = [ln for ln in d.text().splitlines() if "relay.qmp" in ln and ln.startswith("<4>")]
        t.check(len(line) == 1, "one warning for the socket: %s" % line)
        t.check(line and ("pid %d" % relay.pid) in line[0] and "not a thread of" in line[0],
                "the line names the relay's pid and why: %s" % line)
        t.check(periods_pass(d, 15), "periods run (past a retry)")
        t.check(status(d.sock)["vms"] == [], "no VM managed: %s" % status(d.sock)["vms"])
        same_placement(t, "innocent", before, placement(innocent.pid))
        t.check(len([ln for ln in d.text().splitlines() if "relay.qmp" in ln and ln.startswith("<4>")]) == 1,
                "a retry that fails the same way does not warn again")
    finally:
        if d:
            t.check(d.stop() == 0, "clean exit")
        relay.kill()
        relay.wait()
        innocent.stop()


CPUS_FAST = '{"return": [{"cpu-index": 0, "thread-id": %d, "props": {"node-id": 0}}], "id": %%ID%%}\r\n'


def scenario_foreign_threads(t, work):
    """(b) A peer that names another process's thread: refused before anything else is asked,
    that process untouched, and vnumad keeps serving its real VM."""
    good = guest("good", os.path.join(work, "good"))
    os.rename(good.qmp_path, os.path.join(work, "good", "good.qmp"))  # the VM's name is its socket's
    good.qmp_path = os.path.join(work, "good", "good.qmp")
    saved = os.sched_getaffinity(0)
    os.sched_setaffinity(0, CPU0)
    try:
        victim = subprocess.Popen(["sleep", "300"])
    finally:
        os.sched_setaffinity(0, saved)
    d = None
    try:
        with ScriptedPeer({"query-cpus-fast": CPUS_FAST % victim.pid}) as peer:
            before = placement(victim.pid)
            conf = STRICT_CONF % "peer" + "[vm good]\nmode = strict\nnodes = 0\n"
            d = Daemon(work, config=conf, args=["--qmp", peer.path, "--qmp", good.qmp_path])
            t.check(wait_for(lambda: "peer.sock: refused: vCPU thread %d" % victim.pid in d.text())[0],
                    "refused, naming the thread: %s" % d.text()[-2000:])
            t.check(wait_for(lambda: [v["name"] for v in status(d.sock)["vms"]] == ["good"])[0],
                    "the real QEMU is managed: %s" % status(d.sock))
            t.check(periods_pass(d, 5), "periods keep running")
            t.check(set(peer.seen) <= {"qmp_capabilities", "query-cpus-fast"},
                    "nothing asked after the threads failed: %s" % peer.seen)
            same_placement(t, "sleeping child", before, placement(victim.pid))
            show = json.loads(ctl(d.sock, "--json", "show", "good").stdout)
            t.check([x["pid"] for x in show["domains"]] == [good.pid], "show good: its own pid")
            # The real VM is served: its strict policy pinned its vCPUs to node 0's CPUs.
            vcpus = [v["tid"] for v in show["domains"][0]["vcpus"]]
            t.check(wait_for(lambda: all(os.sched_getaffinity(tid) == set(range(os.cpu_count())) for tid in vcpus))[0],
                    "good's vCPUs pinned by its policy: %s" % [os.sched_getaffinity(x) for x in vcpus])
    finally:
        if d:
            t.check(d.stop() == 0, "clean exit")
        victim.kill()
        victim.wait()
        good.stop()


SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*'
                    r'(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
                    r'(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*\})?'
                    r' [-+]?([0-9.eE+-]+|NaN|Inf)( -?[0-9]+)?$')
COMMENT = re.compile(r'^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* '
                     r'(counter|gauge|histogram|summary|untyped)|.*)$')


def prometheus_problems(text):
    """Lines that are neither a comment nor a sample of the text exposition format."""
    return [ln for ln in text.split("\n")[:-1] if not (COMMENT.match(ln) or SAMPLE.match(ln))] + \
        ([] if text.endswith("\n") else ["(no final newline)"])


def label_values(text, metric):
    out = []
    for ln in text.split("\n"):
        m = re.match(r'^%s\{vm="((?:[^"\\]|\\.)*)"\}' % metric, ln)
        if m:
            out.append(re.sub(r'\\(.)', lambda x: {"n": "\n"}.get(x.group(1), x.group(1)), m.group(1)))
    return out


def scenario_impostor(t, work):
    """(c) A QEMU that calls itself "victim" does not get victim's policy; one whose socket and
    -name hold quotes, backslashes, a newline and escapes breaks neither metrics nor terminals."""
    qmp_dir = os.path.join(work, "qmp.d")
    os.makedirs(qmp_dir)
    weird_sock = 'we"ird\\x\nname.qmp'
    weird_qemu_name = 'ev\x1b[31mil"q,,x\x1b]0;title\x07'
    v = guest("victim", os.path.join(work, "v"))
    i = guest("impostor", os.path.join(work, "i"), qemu_name="victim")
    w = guest("weird", os.path.join(work, "w"), qemu_name=weird_qemu_name)
    d = None
    try:
        before_i = placement(i.pid)
        t.check(all(aff == [0] for aff, _ in before_i["threads"].values()), "impostor starts on CPU 0")
        d = Daemon(work, config=STRICT_CONF % "victim", args=["--qmp-dir", qmp_dir])
        for g, name in ((v, "victim.qmp"), (i, "impostor.qmp"), (w, weird_sock)):
            os.rename(g.qmp_path, os.path.join(qmp_dir, name))
            g.qmp_path = os.path.join(qmp_dir, name)
        t.check(wait_for(lambda: len(status(d.sock)["vms"]) == 3)[0], "three VMs: %s" % d.text()[-2000:])
        names = sorted(x["name"] for x in status(d.sock)["vms"])
        t.check(names == sorted(["impostor", "victim", 'we"ird\\x?name']), "names from the sockets: %r" % names)
        pol = {x["name"]: x["policy"]["mode"] for x in status(d.sock)["vms"]}
        t.check(pol.get("victim") == "strict" and pol.get("impostor") == "observe", "policies by socket: %s" % pol)
        # Positive control: the policy does show in the affinity of the VM it belongs to.
        vt = [x["tid"] for x in json.loads(ctl(d.sock, "--json", "show", "victim").stdout)["domains"][0]["vcpus"]]
        allcpus = set(range(os.cpu_count()))
        t.check(wait_for(lambda: all(os.sched_getaffinity(x) == allcpus for x in vt))[0],
                "victim's vCPUs pinned by victim's policy")
        t.check(periods_pass(d, 5), "periods pass")
        same_placement(t, "impostor", before_i, placement(i.pid))

        metrics = ctl(d.sock, "metrics").stdout
        bad = prometheus_problems(metrics)
        t.check(not bad, "metrics are valid Prometheus text; bad lines: %r" % bad)
        t.check(sorted(label_values(metrics, "vnumad_vm_migrated_bytes_total")) == names,
                "label values unescape to the VM names: %r" % label_values(metrics, "vnumad_vm_migrated_bytes_total"))
        for args in (("show",), ("status",), ("show", "--qmp", w.qmp_path)):
            p = ctl(d.sock if args[-1] != w.qmp_path else None, *args, check=False)
            out = p.stdout + p.stderr
            t.check("\x1b" not in out and "\x07" not in out, "vnumactl %s prints no escapes: %r" % (args[0], out[:300]))
        t.check("ev?[31mil\"q,x?]0;title?" in d.text(), "the -name is logged, sanitised: %s" % d.text()[-1500:])
        t.check("\x1b" not in d.text(), "the log has no escapes")
    finally:
        if d:
            t.check(d.stop() == 0, "clean exit")
        for g in (v, i, w):
            g.stop()


def main():
    skip_without_qemu()
    if not VNUMAD or not VNUMACTL:
        raise SystemExit("VNUMAD and VNUMACTL must be set (meson sets them)")
    if os.geteuid() != 0:
        print("SKIP: needs root (vnumad pins other processes)")
        sys.exit(77)
    if os.cpu_count() < 2 or 0 not in os.sched_getaffinity(0):
        print("SKIP: needs CPU 0 and another CPU")
        sys.exit(77)
    run_scenarios((scenario_relay, scenario_foreign_threads, scenario_impostor), "vnumad-hostile-")


if __name__ == "__main__":
    main()
