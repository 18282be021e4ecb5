#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vnumad + vnumactl against a real libvirtd with small TCG domains, end to end: discovery of a
domain that runs before vnumad starts, lifecycle events, the <vnumad:policy> metadata round trip
in both directions, invalid metadata (reported, nothing changed), vCPU pins applied through
libvirt, XML pins meaning "observe", and a libvirtd restart.

This host has one NUMA node, so a pin to "node 0's CPUs" is a pin to every CPU. To make the pin
checks able to fail, the test first narrows a domain's vCPU pins itself (`virsh vcpupin --live`,
vCPU 0 -> the last CPU, vCPU 1 -> the first): a pin by vnumad then shows as a widening back to
node 0's CPUs, and "vnumad changed nothing" as the narrowed pins staying as they are."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import libvirt_harness as lh  # noqa: E402
from vnumatest import VNUMACTL, VNUMAD, Daemon, Failures, ctl, status, vm_of, wait_for  # noqa: E402
PERIOD_MS = 500
RESTART_PERIOD_MS = 1000
# Waits last at least this many periods: on a loaded 2-core machine (valgrind, a TCG guest
# beside) an event or a period comes late. The time something took is printed; only a deadline
# this generous, missed, fails a check.
MIN_WAIT_PERIODS = 10


def periods(n, period_ms=PERIOD_MS):
    """Seconds to wait for something expected within n periods."""
    return max(n, MIN_WAIT_PERIODS) * period_ms / 1000


def events_of(st, name, after=0):
    return [(e["kind"], e["what"]) for e in st["libvirt"]["events"] if e["name"] == name and e["seq"] > after]


def last_seq(st):
    ev = st["libvirt"]["events"]
    return ev[-1]["seq"] if ev else 0


def pin_state(name):
    """What libvirt, the vCPU cgroups and the kernel say about each vCPU thread's CPUs."""
    pid = lh.qemu_pid(name)
    virsh = lh.virsh_vcpupin(name)
    out = {}
    for vcpu, tid in sorted(lh.vcpu_tids(pid).items()):
        path, cg = lh.thread_cpuset_cgroup(pid, tid)
        out[vcpu] = {"virsh": virsh.get(vcpu), "cgroup": cg, "affinity": lh.thread_affinity(pid, tid)}
    return out


def fmt_pins(ps):
    return "; ".join("vcpu%d virsh=%s cgroup=%s affinity=%s" % (v, lh.fmt_cpus(x["virsh"]), lh.fmt_cpus(x["cgroup"]),
                                                              lh.fmt_cpus(x["affinity"]))
                     for v, x in sorted(ps.items()))


def narrow(name):
    """vCPU 0 -> the last host CPU, vCPU 1 -> the first (through libvirt, live only)."""
    cpus = sorted(lh.host_cpus())
    lh.virsh("vcpupin", name, "0", str(cpus[-1]), "--live")
    lh.virsh("vcpupin", name, "1", str(cpus[0]), "--live")
    return {0: {cpus[-1]}, 1: {cpus[0]}}


def pins_are(ps, want):
    """Every source (virsh, cgroup, affinity) agrees with want[vcpu]."""
    return bool(ps) and all(all(x[k] == want[v] for k in ("virsh", "cgroup", "affinity")) for v, x in ps.items())


def pins_now(name, want):
    """pin_state(name) when it matches want everywhere, else None (for wait_for)."""
    ps = pin_state(name)
    return ps if pins_are(ps, want) else None


def policy_now(sock, name, mode=None, source="metadata", error=None, error_has=None):
    """The VM's status entry when its policy looks as asked, else None (for wait_for)."""
    v = vm_of(status(sock), name)
    if not v:
        return None
    pol = v["policy"]
    if error_has is not None:
        # Invalid metadata: the effective policy is observe, shown next to the error.
        return v if error_has in (pol.get("error") or "") and pol["mode"] == "observe" else None
    ok = (mode is None or pol["mode"] == mode) and pol["source"] == source and pol.get("error") == error
    return v if ok else None


def pin_actions(sock, name, since_period):
    ex = json.loads(ctl(sock, "--json", "explain", name).stdout)
    return [a for a in ex["actions"] if a["type"].startswith("pin-") and a["period"] >= since_period]


class Ctx:
    def __init__(self, t, work):
        self.t = t
        self.work = work
        self.doms = lh.Domains(work)
        self.node0 = lh.node_cpus(0)
        self.d = None


# 1 + 5: discovery at start, and pins through libvirt.
def case_discovery_and_pins(c):
    t = c.t
    # Defined with metadata mode=auto pin=vcpus, started and narrowed before vnumad runs.
    c.p_dom = c.doms.create(metadata="<vnumad:policy xmlns:vnumad='%s' mode='auto' pin='vcpus'/>" % lh.NS)
    c.p_narrow = narrow(c.p_dom)
    lh.virsh("emulatorpin", c.p_dom, str(max(lh.host_cpus())), "--live")
    # And one whose metadata is invalid from the start: vnumad must leave its narrowed pins alone.
    c.q_dom = c.doms.create(metadata="<vnumad:policy xmlns:vnumad='%s' mode='sometimes'/>" % lh.NS)
    c.q_narrow = narrow(c.q_dom)
    before = pin_state(c.p_dom)
    print("%s before vnumad: %s, emulator %s" % (c.p_dom, fmt_pins(before), lh.fmt_cpus(lh.virsh_emulatorpin(c.p_dom))))
    t.check(pins_are(before, c.p_narrow), "case 5 precondition: narrowed pins visible everywhere")

    c.d = Daemon(c.work, "main", PERIOD_MS, libvirt_uri=lh.URI)
    d = c.d
    v, waited = wait_for(lambda: vm_of(status(d.sock), c.p_dom), periods(2), step=0.02)
    ms = waited * 1000
    print("case 1: %s listed %.0f ms after the socket appeared (%.0f ms after exec; period %d ms)" %
          (c.p_dom, ms, (time.monotonic() - d.started) * 1000 if v else -1, PERIOD_MS))
    t.check(v is not None, "case 1: pre-existing domain listed (after %.0f ms)" % ms)
    if v is None:
        print(d.text()[-3000:])
        return
    t.check(v["source"] == "libvirt", "case 1: source %r" % v["source"])
    t.check(bool(v.get("uuid")) and v["uuid"] == lh.virsh("domuuid", c.p_dom).stdout.strip(),
            "case 1: uuid %r matches virsh domuuid" % v.get("uuid"))
    t.check(v["pid"] == lh.qemu_pid(c.p_dom), "case 1: pid %s is libvirt's QEMU pid" % v["pid"])
    t.check(v["cells"] == 2 and v["vcpus"] == 2, "case 1: cells %s vcpus %s" % (v["cells"], v["vcpus"]))
    st = status(d.sock)
    t.check(st["libvirt"]["connected"] is True and st["libvirt"]["generation"] == 1,
            "case 1: libvirt connected %s generation %s" % (st["libvirt"]["connected"], st["libvirt"]["generation"]))
    t.check(("up", "discovered") in events_of(st, c.p_dom), "case 1: event up/discovered: %s" % events_of(st, c.p_dom))
    t.check(v["policy"]["mode"] == "auto" and v["policy"]["source"] == "metadata" and v["policy"]["pin"] == "vcpus",
            "case 5: policy %s" % v["policy"])

    # 5: vnumad's pins show in libvirt, in the vCPU cgroups and in the threads' affinity alike.
    ps, waited = wait_for(lambda: pins_now(c.p_dom, {0: c.node0, 1: c.node0}), periods(6))
    after = pin_state(c.p_dom)
    print("case 5: %s after vnumad (%.1f s): %s, emulator %s" %
          (c.p_dom, waited, fmt_pins(after), lh.fmt_cpus(lh.virsh_emulatorpin(c.p_dom))))
    t.check(ps is not None, "case 5: vCPU pins widened to node 0's CPUs %s in virsh, cgroup and affinity: %s" %
            (lh.fmt_cpus(c.node0), fmt_pins(after)))
    t.check(all(x["virsh"] == x["cgroup"] == x["affinity"] for x in after.values()),
            "case 5: virsh vcpupin, vcpuN cpuset.cpus and Cpus_allowed_list agree")
    emu, _ = wait_for(lambda: lh.virsh_emulatorpin(c.p_dom) == c.node0, periods(2))
    t.check(emu is not None, "case 5: emulator pin widened to %s: virsh emulatorpin %s" %
            (lh.fmt_cpus(c.node0), lh.fmt_cpus(lh.virsh_emulatorpin(c.p_dom))))
    acts = pin_actions(d.sock, c.p_dom, 0)
    print("case 5: pin actions: %s" % ["%s %s cpus %s result %s" % (a["type"], a.get("vcpus", ""), a.get("cpus"),
                                                                    a["result"]) for a in acts])
    t.check(any(a["type"] == "pin-vcpus" and a["result"] == 0 and lh.parse_cpulist(a["cpus"]) == c.node0 for a in acts),
            "case 5: explain lists an applied pin-vcpus to node 0's CPUs")
    st = status(d.sock)
    t.check(("changed", "tunable") in events_of(st, c.p_dom),
            "case 5: libvirt raised tunable events for vnumad's pins (pins went through libvirt): %s" %
            events_of(st, c.p_dom))

    # 4, at discovery: invalid metadata from the start -> observed only, its narrowed pins stay.
    q = vm_of(st, c.q_dom)
    t.check(q is not None and "unknown mode" in (q["policy"]["error"] or ""),
            "case 4 at discovery: %s policy %s" % (c.q_dom, q and q["policy"]))
    qs = pin_state(c.q_dom)
    acts = pin_actions(d.sock, c.q_dom, 0) if q else []
    print("case 4 at discovery: %s after %d periods: %s; pin actions %s" %
          (c.q_dom, st["period"], fmt_pins(qs), [a["text"] for a in acts]))
    t.check(pins_are(qs, c.q_narrow), "case 4 at discovery: narrowed pins unchanged")
    t.check(not acts, "case 4 at discovery: no pin actions")
    t.check(not [e for e in events_of(st, c.q_dom) if e[1] == "tunable"],
            "case 4 at discovery: no pins through libvirt")
    c.doms.destroy(c.q_dom)


# 2: lifecycle events while vnumad runs.
def case_events(c):
    t, d = c.t, c.d
    seq = last_seq(status(d.sock))
    name = c.doms.define()
    ev, w = wait_for(lambda: ("changed", "defined") in events_of(status(d.sock), name, seq), periods(2))
    t.check(ev is not None, "case 2: define -> changed/defined (%.2f s): %s" %
            (w, events_of(status(d.sock), name, seq)))
    t.check(vm_of(status(d.sock), name) is None, "case 2: a defined, shut-off domain is not managed")
    c.doms.start(name)
    v, w = wait_for(lambda: vm_of(status(d.sock), name), periods(4))
    st = status(d.sock)
    t.check(v is not None, "case 2: started domain listed after %.2f s" % w)
    t.check(("up", "booted") in events_of(st, name, seq), "case 2: event up/booted: %s" % events_of(st, name, seq))
    if v:
        t.check(v["source"] == "libvirt" and v["pid"] == lh.qemu_pid(name),
                "case 2: source %s pid %s" % (v["source"], v["pid"]))
    # Suspend and resume: events only, the VM stays managed (same QEMU).
    lh.virsh("suspend", name)
    ev, w = wait_for(lambda: ("changed", "suspended") in events_of(status(d.sock), name, seq), periods(2))
    t.check(ev is not None, "case 2: suspend -> changed/suspended (%.2f s)" % w)
    lh.virsh("resume", name)
    ev, w = wait_for(lambda: ("changed", "resumed") in events_of(status(d.sock), name, seq), periods(2))
    t.check(ev is not None, "case 2: resume -> changed/resumed (%.2f s)" % w)
    v2 = vm_of(status(d.sock), name)
    t.check(v and v2 and v2["pid"] == v["pid"], "case 2: still managed after suspend/resume, same QEMU")
    # Save and restore: dropped as saved, managed again (a new QEMU) as restored.
    saved = os.path.join(c.work, name + ".save")
    lh.virsh("save", name, saved)
    gone, w = wait_for(lambda: vm_of(status(d.sock), name) is None, periods(2))
    t.check(gone is not None and ("down", "saved") in events_of(status(d.sock), name, seq),
            "case 2: save -> down/saved and dropped (%.2f s): %s" % (w, events_of(status(d.sock), name, seq)))
    lh.virsh("restore", saved)
    v3, w = wait_for(lambda: vm_of(status(d.sock), name), periods(4))
    t.check(v3 is not None and ("up", "restored") in events_of(status(d.sock), name, seq) and
            v3["pid"] == lh.qemu_pid(name),
            "case 2: restore -> up/restored and managed again (%.2f s): %s" %
            (w, events_of(status(d.sock), name, seq)))
    os.unlink(saved)
    c.doms.destroy(name)
    gone, w = wait_for(lambda: vm_of(status(d.sock), name) is None, periods(2))
    st = status(d.sock)
    t.check(gone is not None, "case 2: destroyed domain dropped after %.2f s" % w)
    t.check(("down", "destroyed") in events_of(st, name, seq),
            "case 2: event down/destroyed: %s" % events_of(st, name, seq))
    c.doms.undefine(name)
    ev, w = wait_for(lambda: ("changed", "undefined") in events_of(status(d.sock), name, seq), periods(2))
    t.check(ev is not None, "case 2: undefine -> changed/undefined (%.2f s): %s" %
            (w, events_of(status(d.sock), name, seq)))
    t.check(c.p_dom is None or vm_of(status(d.sock), c.p_dom) is not None, "case 2: the other domain is still managed")


# 3: metadata round trip.
def case_metadata_round_trip(c):
    t, d = c.t, c.d
    c.m_dom = name = c.doms.create()
    v, w = wait_for(lambda: vm_of(status(d.sock), name), periods(4))
    t.check(v is not None and v["policy"]["source"].startswith("config"),
            "case 3: new domain managed with the config policy: %s" % (v and v["policy"]))
    wait_for(lambda: pin_actions(d.sock, name, 0), periods(4))
    narrowed = narrow(name)
    t.check(pins_are(pin_state(name), narrowed), "case 3: narrowed pins in place: %s" % fmt_pins(pin_state(name)))

    p = ctl(None, "policy", "set", name, "mode=strict", "nodes=0", check=False)
    t.check(p.returncode == 0, "case 3: vnumactl policy set %s mode=strict nodes=0: rc %d %s" %
            (name, p.returncode, (p.stdout + p.stderr).strip()))
    meta = lh.metadata_get(name) or ""
    print("case 3: virsh metadata %s %s -> %s" % (name, lh.NS, meta))
    t.check('mode="strict"' in meta and 'nodes="0"' in meta, "case 3: virsh metadata shows mode=\"strict\" nodes=\"0\"")
    v, w = wait_for(lambda: policy_now(d.sock, name, "strict"), periods(2), step=0.02)
    t.check(v is not None, "case 3: status shows strict/metadata after %.0f ms" % (w * 1000))
    # A new, valid policy is applied: the vCPUs follow node 0 again (the control for case 4).
    ps, w = wait_for(lambda: pins_now(name, {0: c.node0, 1: c.node0}), periods(4))
    t.check(ps is not None, "case 3: after the valid policy change vnumad re-pinned the vCPUs to node 0 (%.1f s): %s" %
            (w, fmt_pins(pin_state(name))))

    lh.metadata_set(name, '<policy mode="interleave"/>')
    set_at = time.monotonic()
    g = json.loads(ctl(None, "policy", "get", name, "--json").stdout)
    print("case 3: vnumactl policy get %s --json -> %s" % (name, json.dumps(g)))
    t.check(g.get("source") == "metadata" and (g.get("policy") or {}).get("mode") == "interleave" and
            g.get("error") is None,
            "case 3: policy get shows interleave from metadata")
    v, _ = wait_for(lambda: policy_now(d.sock, name, "interleave"), periods(2), step=0.02)
    ms = (time.monotonic() - set_at) * 1000
    t.check(v is not None, "case 3: status shows interleave/metadata %.0f ms after virsh metadata --set: %s" %
            (ms, vm_of(status(d.sock), name)["policy"]))
    st = status(d.sock)
    t.check(("changed", "metadata") in events_of(st, name), "case 3: metadata change event recorded")


INVALID = [
    ("unknown mode", '<policy mode="sometimes"/>', "unknown mode"),
    ("bad nodeset", '<policy mode="strict" nodes="0-"/>', "invalid node list"),
    ("node not on host", '<policy mode="strict" nodes="7"/>', "host has no node"),
]


# 4: invalid metadata.
def case_invalid_metadata(c):
    t, d = c.t, c.d
    name = c.m_dom
    # Let the interleave policy of case 3 settle, then narrow: vnumad does not re-pin a drifted vCPU
    # under an unchanged policy, but it does re-plan on a policy change (case 3), so a wrong pin
    # under an invalid policy would widen these again.
    time.sleep(2 * PERIOD_MS / 1000)
    narrowed = narrow(name)
    base = pin_state(name)
    print("case 4: baseline %s" % fmt_pins(base))
    t.check(pins_are(base, narrowed), "case 4: baseline narrowed")
    for label, xml, substring in INVALID:
        period0 = status(d.sock)["period"]
        seq0 = last_seq(status(d.sock))
        mark = d.mark()
        lh.metadata_set(name, xml)
        v, w = wait_for(lambda: policy_now(d.sock, name, error_has=substring), periods(2), step=0.02)
        got = vm_of(status(d.sock), name)
        print("case 4 %s: %s -> policy %s (%.0f ms)" % (label, xml, got and got["policy"], w * 1000))
        t.check(v is not None, "case 4 %s: status policy.error contains %r" % (label, substring))
        show = ctl(d.sock, "show", name, check=False).stdout
        errlines = [line.strip() for line in show.splitlines()
                    if substring in line and ("error" in line.lower() or "invalid" in line.lower())]
        t.check(bool(errlines), "case 4 %s: vnumactl show prints the error: %s" % (label, errlines))
        if errlines and not errlines[0].startswith("error:"):
            print("note: the spec says a line \"error: ...\"; show prints %r" % errlines[0])
        g = json.loads(ctl(None, "policy", "get", name, "--json").stdout)
        t.check(substring in (g.get("error") or ""),
                "case 4 %s: vnumactl policy get error %r" % (label, g.get("error")))
        logged, _ = wait_for(lambda: [line for line in d.text(mark).splitlines() if name in line and substring in line],
                             2)
        t.check(bool(logged), "case 4 %s: vnumad log names it: %s" % (label, (logged or ["nothing"])[0]))
        # Give a wrong action every chance: a few periods and an explicit rebalance.
        time.sleep(3 * PERIOD_MS / 1000)
        rb = ctl(d.sock, "rebalance", name, check=False)
        time.sleep(PERIOD_MS / 1000)
        now = pin_state(name)
        acts = pin_actions(d.sock, name, period0)
        tunables = [e for e in events_of(status(d.sock), name, seq0) if e[1] == "tunable"]
        print("case 4 %s: after: %s; rebalance: %s; pin actions since period %d: %d; tunable events: %d" %
              (label, fmt_pins(now), (rb.stdout + rb.stderr).strip(), period0, len(acts), len(tunables)))
        t.check(now == base, "case 4 %s: vCPU pins, cgroups and affinity unchanged" % label)
        t.check(not acts, "case 4 %s: no pin actions: %s" % (label, [a["text"] for a in acts]))
        t.check(not tunables, "case 4 %s: no pin went through libvirt" % label)

    # Malformed XML: libvirt refuses to store it; the stored policy stays.
    before = lh.metadata_get(name)
    p = lh.metadata_set(name, '<policy mode="strict"', check=False)
    after = lh.metadata_get(name)
    print("case 4 malformed XML: virsh rc %d (%s); stored before %r after %r" %
          (p.returncode, p.stderr.strip().splitlines()[0] if p.stderr.strip() else "", before, after))
    if p.returncode != 0:
        t.check(after == before, "case 4 malformed XML: libvirt refused it and the stored metadata is unchanged")
    else:
        v, _ = wait_for(lambda: policy_now(d.sock, name, error_has="malformed XML"), periods(2))
        t.check(v is not None, "case 4 malformed XML: libvirt stored it; status policy.error says malformed XML")

    # vnumactl policy set validates first and leaves the metadata alone.
    lh.metadata_set(name, '<policy mode="preferred" nodes="0"/>')
    before = lh.metadata_get(name)
    for args, why in ((["mode=sometimes"], "unknown mode"), (["mode=strict", "nodes=0-"], "bad node list"),
                      (["mode=strict", "nodes=7"], "node not on this host"), (["mode=strict", "pin=maybe"], "bad pin"),
                      (["mode=auto", "cell=2:0"], "the guest has cells 0-1 only")):
        p = ctl(None, "policy", "set", name, *args, check=False)
        after = lh.metadata_get(name)
        t.check(p.returncode != 0 and after == before,
                "case 4 policy set %s (%s): rc %d, stderr %r, metadata unchanged %s" %
                (" ".join(args), why, p.returncode, p.stderr.strip(), after == before))
    v, w = wait_for(lambda: policy_now(d.sock, name, "preferred"), periods(2))
    t.check(v is not None,
            "case 4: valid metadata again clears policy.error: %s" % vm_of(status(d.sock), name)["policy"])


# 6: XML pins and no metadata: observed only.
def case_xml_pins(c):
    t, d = c.t, c.d
    name = c.doms.create(vcpupin={0: "0"})
    v, w = wait_for(lambda: vm_of(status(d.sock), name), periods(4))
    t.check(v is not None, "case 6: domain with <cputune> vcpupin listed after %.2f s" % w)
    if v is None:
        return
    t.check(v["policy"]["mode"] == "observe" and v["policy"]["source"] == "libvirt XML pins",
            "case 6: policy %s" % v["policy"])
    before = pin_state(name)
    time.sleep(3 * PERIOD_MS / 1000)
    after = pin_state(name)
    acts = pin_actions(d.sock, name, 0)
    print("case 6: %s pins %s; pin actions %d" % (name, fmt_pins(after), len(acts)))
    t.check(after[0]["virsh"] == {0} and after[0]["affinity"] == {0} and after == before,
            "case 6: vCPU 0 stays on CPU 0 as the XML says")
    t.check(not acts, "case 6: no pin actions: %s" % [a["text"] for a in acts])
    t.check(not [e for e in events_of(status(d.sock), name) if e[1] == "tunable"], "case 6: no pins through libvirt")
    c.doms.destroy(name)
    c.doms.undefine(name)


# 8: memory hotplug: libvirt's device-added event makes vnumad learn the layout again.
def cell_sizes(sock, name):
    doc = json.loads(ctl(sock, "--json", "show", name, check=False).stdout or "{}")
    for dom in doc.get("domains", []):
        return {g["id"]: g["size_bytes"] for g in dom["guest_nodes"]}
    return None


def case_hotplug(c):
    t, d = c.t, c.d
    name = c.doms.create(dimm_slots=1)
    v, w = wait_for(lambda: vm_of(status(d.sock), name), periods(4))
    t.check(v is not None, "case 8: domain with a free DIMM slot listed after %.2f s" % w)
    if v is None:
        return
    mib = 1 << 20
    before = cell_sizes(d.sock, name)
    t.check(before == {0: 64 * mib, 1: 64 * mib}, "case 8: cells before the hotplug: %s" % before)
    seq = last_seq(status(d.sock))
    dimm = os.path.join(c.work, name + "-dimm.xml")
    with open(dimm, "w") as f:
        f.write("<memory model='dimm'><target><size unit='MiB'>128</size><node>1</node></target></memory>")
    lh.virsh("attach-device", name, dimm, "--live")
    ev, w = wait_for(lambda: ("changed", "device-added") in events_of(status(d.sock), name, seq),
                     periods(2))
    t.check(ev is not None, "case 8: attach-device -> changed/device-added after %.2f s: %s" %
            (w, events_of(status(d.sock), name, seq)))
    after, w = wait_for(lambda: (lambda s: s if s and s.get(1) == 192 * mib else None)(cell_sizes(d.sock, name)),
                        periods(2))
    t.check(after is not None and after.get(0) == 64 * mib,
            "case 8: cell 1 grew by the 128 MiB DIMM in vnumad's model after %.2f s: %s" %
            (w, cell_sizes(d.sock, name)))
    v2 = vm_of(status(d.sock), name)
    t.check(v2 is not None and v2["pid"] == v["pid"], "case 8: still managed, same QEMU")
    c.doms.destroy(name)
    c.doms.undefine(name)


# 7: libvirtd restart.
def case_restart(c):
    t = c.t
    rc = c.d.stop()
    t.check(rc == 0, "vnumad (period %d): SIGTERM exit status %s" % (PERIOD_MS, rc))
    # The new vnumad's first real plan wants P's vCPUs back on node 0. It starts in dry-run, so
    # nothing acts before libvirtd is gone; dry-run ends while libvirtd is away, so those pins
    # fail then, every time, and have to wait for the reconnect.
    p_narrow = narrow(c.p_dom) if c.p_dom else None
    d = c.d = Daemon(c.work, "restart", RESTART_PERIOD_MS, config="[daemon]\ndry-run = yes\n",
                         libvirt_uri=lh.URI)
    name = c.m_dom
    v, _ = wait_for(lambda: vm_of(status(d.sock), name) and (not c.p_dom or vm_of(status(d.sock), c.p_dom)), 5,
                    step=0.02)
    v = vm_of(status(d.sock), name)
    st = status(d.sock)
    g0 = st["libvirt"]["generation"]
    t.check(v is not None and st["libvirt"]["connected"], "case 7: %s managed, connected, generation %s" % (name, g0))
    if v is None:
        return
    qpid = v["pid"]

    samples = []
    stop = threading.Event()

    def sampler():
        while not stop.is_set():
            try:
                s = status(d.sock)
                samples.append((time.monotonic(), s["libvirt"]["connected"], s["libvirt"]["generation"],
                                s["libvirt"]["last_error"]))
            except (RuntimeError, ValueError, subprocess.TimeoutExpired):
                pass
            time.sleep(0.05)

    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    try:
        pids = lh.libvirtd_pids()
        print("case 7: stopping libvirtd pid %s" % pids)
        for pid in pids:
            os.kill(pid, signal.SIGTERM)
        gone, _ = wait_for(lambda: not any(lh._pid_alive(p) for p in pids), 30, step=0.1)
        if not gone:
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            wait_for(lambda: not any(lh._pid_alive(p) for p in pids), 10, step=0.1)
        down, w = wait_for(lambda: any(not s[1] for s in samples), periods(3, RESTART_PERIOD_MS))
        t.check(down is not None, "case 7: status showed connected false after libvirtd stopped (%.2f s)" % w)
        time.sleep(1.5)  # let a reconnect attempt or two fail
        t.check(d.proc.poll() is None, "case 7: vnumad keeps running without libvirtd")
        if c.p_dom:
            mark = d.mark()
            t.check(d.reconfigure("[daemon]\ndry-run = no\n"), "case 7: vnumad reloaded with dry-run off")
            waiting, w = wait_for(lambda: [line for line in d.text(mark).splitlines()
                                           if c.p_dom in line and "pin-vcpus" in line and "waits for libvirt" in line],
                                  periods(3, RESTART_PERIOD_MS))
            print("case 7: %s's first real pins, with libvirtd away (%.1f s after dry-run ended): %s" %
                  (c.p_dom, w, waiting[0].strip() if waiting else "none logged"))
            t.check(bool(waiting), "case 7: the pins planned while libvirtd is away wait for it")
            pol = (vm_of(status(d.sock), c.p_dom) or {}).get("policy") or {}
            t.check(pol.get("source") == "metadata" and pol.get("mode") == "auto",
                    "case 7: a reload while libvirtd is away keeps %s's metadata policy: %s" % (c.p_dom, pol))
        lh.start_libvirtd()
        ok, _ = wait_for(lh.libvirtd_answers, 30, step=0.1)
        answered = time.monotonic()
        t.check(ok is not None, "case 7: libvirtd answers again")
        back, _ = wait_for(lambda: [s for s in samples if s[0] >= answered and s[1] and s[2] > g0],
                           periods(2, RESTART_PERIOD_MS), step=0.05)
        first_back = min((s[0] for s in samples if s[1] and s[2] > g0), default=None)
        lag = (first_back - answered) * 1000 if first_back else float("nan")
        print("case 7: first connected=true with generation > %d %.0f ms after virsh version answered" % (g0, lag))
        t.check(first_back is not None,
                "case 7: reconnected after libvirtd answered again (%.0f ms later)" % lag)
    finally:
        stop.set()
        th.join()
    st = status(d.sock)
    t.check(st["libvirt"]["connected"] and st["libvirt"]["generation"] == g0 + 1,
            "case 7: connected %s generation %s (was %s)" %
            (st["libvirt"]["connected"], st["libvirt"]["generation"], g0))
    errs = {s[3] for s in samples if not s[1]}
    print("case 7: last_error while disconnected: %s" % errs)
    v = vm_of(st, name)
    t.check(v is not None and v["pid"] == qpid, "case 7: %s still managed, same QEMU pid" % name)
    if c.p_dom:
        ps, w = wait_for(lambda: pins_now(c.p_dom, {0: c.node0, 1: c.node0}), periods(3, RESTART_PERIOD_MS))
        now = pin_state(c.p_dom)
        print("case 7: %s %.1f s after the reconnect: %s" % (c.p_dom, w, fmt_pins(now)))
        t.check(ps is not None, "case 7: pins that waited while libvirtd was away are applied after the reconnect "
                "(still narrowed: %s)" % pins_are(now, p_narrow))
    seq = last_seq(st)
    lh.metadata_set(name, '<policy mode="interleave" nodes="0"/>')
    set_at = time.monotonic()
    v, _ = wait_for(lambda: policy_now(d.sock, name, "interleave"), periods(2, RESTART_PERIOD_MS), step=0.02)
    ms = (time.monotonic() - set_at) * 1000
    t.check(v is not None, "case 7: metadata change after the restart picked up (%.0f ms)" % ms)
    t.check(("changed", "metadata") in events_of(status(d.sock), name, seq),
            "case 7: metadata event received on the new connection: %s" % events_of(status(d.sock), name, seq))


def generation(c):
    try:
        lv = status(c.d.sock)["libvirt"] if c.d else None
        return lv and (lv["generation"], lv["connected"])
    except (RuntimeError, ValueError, KeyError, subprocess.TimeoutExpired):
        return None


def main():
    lh.skip_unless_possible()
    if not VNUMAD or not VNUMACTL:
        raise SystemExit("VNUMAD and VNUMACTL must be set (meson sets them)")
    lh.exclusive_lock()
    if not lh.ensure_libvirtd():
        raise SystemExit("libvirtd did not start (virsh -c %s version fails)" % lh.URI)
    t = Failures()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="vnumad-libvirt-e2e-") as work:
        c = Ctx(t, work)
        c.p_dom = c.m_dom = None
        try:
            for case in (case_discovery_and_pins, case_events, case_metadata_round_trip, case_invalid_metadata,
                         case_xml_pins, case_hotplug, case_restart):
                print("== %s (%.1f s)" % (case.__name__, time.monotonic() - t0))
                if case in (case_invalid_metadata, case_restart) and c.m_dom is None:
                    t.check(False, "%s: needs the domain of case 3" % case.__name__)
                    continue
                pids, failed, gen = lh.libvirtd_pids(), len(t.errors), generation(c)
                try:
                    case(c)
                except Exception as e:  # one broken case must not hide the others
                    t.check(False, "%s raised %s: %s" % (case.__name__, type(e).__name__, e))
                if case is not case_restart and (not all(lh._pid_alive(p) for p in pids) or
                                                  (gen is not None and generation(c) != gen)):
                    print("WARNING: libvirtd was restarted by someone else during %s (pid %s -> %s, vnumad's "
                          "connection %s -> %s); its results may show that" %
                          (case.__name__, pids, lh.libvirtd_pids(), gen, generation(c)))
                if len(t.errors) > failed and c.d:
                    print("---- vnumad log (tail) ----\n" + c.d.text()[-4000:] + "---- end of log ----")
                if case is not case_restart and (c.d is None or c.d.proc.poll() is not None):
                    t.check(False, "vnumad exited (%s)" % (c.d and c.d.proc.returncode))
                    break
        finally:
            if c.d:
                rc = c.d.stop()
                t.check(rc == 0, "vnumad: SIGTERM exit status %s" % rc)
            c.doms.cleanup()
    print("total %.1f s" % (time.monotonic() - t0))
    t.done()


if __name__ == "__main__":
    main()
