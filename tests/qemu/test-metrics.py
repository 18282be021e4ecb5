#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vnumad's Prometheus metrics, from a daemon managing real QEMU guests: `vnumactl metrics` and
the node_exporter textfile ([metrics] textfile) follow the text exposition format and the naming
rules (tests/pylib/promcheck.py, itself tested by tests/unit/test-promcheck.py), label values
round-trip through the escaping, and the textfile is replaced whole: a reader polling it while
periods run never sees a part.

The expected VM names come from the socket file names the test chose, the expected residency
from the guests' preallocated RAM and /sys's node list, the version from `vnumad --version`:
not from vnumad's own metrics."""
import os
import stat
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "pylib"))
import promcheck  # noqa: E402
from qemu_guest import Guest, skip_without_qemu  # noqa: E402
from vnumatest import VNUMAD, VNUMACTL, Daemon, ctl, run_scenarios, status, wait_for  # noqa: E402

CELL_BYTES = 64 << 20
# A socket name with a double quote, a backslash, a backslash-n that is not a line feed, and a
# real line feed (vnumad's names are printable ASCII: the line feed becomes "?").
WEIRD_SOCK = 'q"uo\\te\\n\nx.qmp'
WEIRD_NAME = 'q"uo\\te\\n?x'
# QEMU's -name (commas would need doubling): display only, exported as vnumad_vm_info's qemu_name.
WEIRD_QEMU_NAME = 'qe"mu\\n\\\nname'
WEIRD_QEMU_SHOWN = 'qe"mu\\n\\?name'


def guest(name, workdir):
    os.makedirs(workdir, exist_ok=True)
    return Guest(objects=["memory-backend-ram,id=m0,size=64M,prealloc=on",
                          "memory-backend-ram,id=m1,size=64M,prealloc=on"],
                 numa=["node,nodeid=0,memdev=m0,cpus=0", "node,nodeid=1,memdev=m1,cpus=1"],
                 smp="2", mem="128M", name=name, workdir=workdir)


def host_nodes():
    return sorted(int(n[4:]) for n in os.listdir("/sys/devices/system/node")
                  if n.startswith("node") and n[4:].isdigit())


def only(samples, name, **match):
    v = promcheck.values(samples, name, **match)
    return list(v.values())[0] if len(v) == 1 else None


def check_text(t, label, text):
    problems, samples = promcheck.check(text)
    t.check(not problems, "%s: valid exposition, naming rules kept: %s" % (label, problems[:5]))
    return samples


def check_content(t, label, samples, names, nodes, version):
    t.check(only(samples, "vnumad_build_info", version=version) == 1, "%s: build_info{version=%r} 1" % (label, version))
    t.check(only(samples, "vnumad_managed_vms") == len(names), "%s: managed VMs %d" % (label, len(names)))
    t.check(only(samples, "vnumad_libvirt_connected") == 0, "%s: libvirt not connected (--no-libvirt)" % label)
    info = sorted(lb["vm"] for n, lb, _ in samples if n == "vnumad_vm_info")
    t.check(info == sorted(names), "%s: vm labels unescape to the socket names: %r" % (label, info))
    qn = {lb["vm"]: lb["qemu_name"] for n, lb, _ in samples if n == "vnumad_vm_info"}
    t.check(qn.get(WEIRD_NAME) == WEIRD_QEMU_SHOWN, "%s: qemu_name unescapes to the -name shown: %r" % (label, qn))
    for vm in names:
        res = {(lb["cell"], lb["node"]): v for n, lb, v in samples
               if n == "vnumad_vm_cell_resident_bytes" and lb["vm"] == vm}
        want = {(c, str(nd)) for c in ("0", "1") for nd in nodes}
        t.check(set(res) == want, "%s: %s: resident bytes per cell and host node %s" % (label, vm, sorted(res)))
        t.check(all(res.get((c, "0")) == CELL_BYTES for c in ("0", "1")),
                "%s: %s: each preallocated 64 MiB cell resident on node 0: %s" % (label, vm, res))
        off = promcheck.values(samples, "vnumad_vm_cell_off_home_bytes", vm=vm)
        t.check(sorted(off.values()) == [0, 0], "%s: %s: nothing off home on one node: %s" % (label, vm, off))
        results = {lb["result"] for n, lb, _ in samples if n == "vnumad_vm_migration_bytes_total" and lb["vm"] == vm}
        t.check(results == {"moved", "already_there", "busy", "no_memory", "absent", "shared", "failed"},
                "%s: %s: migration bytes by result: %s" % (label, vm, sorted(results)))
    periods = only(samples, "vnumad_periods_total")
    t.check(periods and only(samples, "vnumad_period_duration_seconds_count") == periods,
            "%s: one duration observed per period (%s)" % (label, periods))


def scenario_metrics_and_textfile(t, work):
    qmp_dir = os.path.join(work, "qmp.d")
    prom_dir = os.path.join(work, "textfile")
    os.makedirs(qmp_dir)
    os.makedirs(prom_dir)
    prom = os.path.join(prom_dir, "vnumad.prom")
    version = subprocess.run([VNUMAD, "--version"], capture_output=True, text=True).stdout.split()[-1]
    nodes = host_nodes()
    a = guest("plain", os.path.join(work, "a"))
    w = guest(WEIRD_QEMU_NAME, os.path.join(work, "w"))
    d = None
    try:
        d = Daemon(work, config="[daemon]\nperiod = 100ms\n[policy]\nmode = observe\n[metrics]\ntextfile = %s\n" % prom,
                   args=["--qmp-dir", qmp_dir])
        for g, name in ((a, "plain.qmp"), (w, WEIRD_SOCK)):
            os.rename(g.qmp_path, os.path.join(qmp_dir, name))
            g.qmp_path = os.path.join(qmp_dir, name)
        names = ["plain", WEIRD_NAME]
        t.check(wait_for(lambda: sorted(v["name"] for v in status(d.sock)["vms"]) == sorted(names), 30)[0],
                "both guests managed: %s" % d.text()[-1500:])
        # The residency scan has covered both cells once the numbers say so (or never).
        wait_for(lambda: all(only(promcheck.check(ctl(d.sock, "metrics").stdout)[1], "vnumad_vm_cell_resident_bytes",
                                  vm=vm, cell=c, node="0") == CELL_BYTES for vm in names for c in ("0", "1")), 20)

        text = ctl(d.sock, "metrics").stdout
        check_content(t, "vnumactl metrics", check_text(t, "vnumactl metrics", text), names, nodes, version)
        for raw in ('\\"', "\\\\"):
            t.check(raw in text, "vnumactl metrics: the escaped form %s is on the wire" % raw)

        st = os.stat(prom)
        t.check(stat.S_IMODE(st.st_mode) == 0o644, "textfile mode 0644 (node_exporter reads it): %o" % st.st_mode)
        check_content(t, "textfile", check_text(t, "textfile", open(prom).read()), names, nodes, version)

        # A reader polling the file while periods (100 ms) run: every read is whole and valid.
        reads, bad, contents, inodes = [0], [], set(), set()
        stop = time.monotonic() + 4

        def reader():
            while time.monotonic() < stop:
                with open(prom) as f:
                    inodes.add(os.fstat(f.fileno()).st_ino)
                    txt = f.read()
                reads[0] += 1
                contents.add(txt)
                problems, samples = promcheck.check(txt)
                last = [n for n, _, _ in samples][-1:] == ["vnumad_vm_cell_off_home_bytes"]
                if problems or not last:
                    bad.append((problems[:3], txt[-200:]))

        th = threading.Thread(target=reader)
        th.start()
        th.join()
        t.check(not bad, "%d reads, none partial or invalid: %s" % (reads[0], bad[:2]))
        # Replaced, not rewritten in place: more than one inode (a freed number may come back).
        t.check(len(contents) >= 10 and len(inodes) >= 2,
                "the file was replaced while read (%d contents, %d inodes)" % (len(contents), len(inodes)))
        leftovers = [f for f in os.listdir(prom_dir) if f != "vnumad.prom" and not f.startswith(".vnumad.prom.")]
        t.check(not leftovers, "nothing else in the directory: %s" % leftovers)
    finally:
        if d:
            t.check(d.stop() == 0, "clean exit")
        a.stop()
        w.stop()
    t.check(os.listdir(prom_dir) == [], "textfile and temporary files gone after exit: %s" % os.listdir(prom_dir))


def scenario_textfile_errors(t, work):
    """A missing directory: one warning, periods go on, the file appears once the directory does.
    A reload that drops the key removes the file. A bad path is a config error."""
    prom_dir = os.path.join(work, "missing")
    prom = os.path.join(prom_dir, "vnumad.prom")
    conf = "[daemon]\nperiod = 100ms\n[metrics]\ntextfile = %s\n" % prom
    d = Daemon(work, config=conf)
    try:
        warn = "Cannot write the metrics textfile %s" % prom
        t.check(wait_for(lambda: warn in d.text())[0], "a missing directory is reported: %s" % d.text()[-800:])
        p0 = status(d.sock)["period"]
        t.check(wait_for(lambda: status(d.sock)["period"] >= p0 + 5)[0], "periods go on")
        t.check(d.text().count(warn) == 1, "warned once, not each period")
        os.makedirs(prom_dir)
        t.check(wait_for(lambda: os.path.exists(prom))[0], "written once the directory exists")
        t.check(wait_for(lambda: "Metrics textfile %s written again" % prom in d.text())[0], "recovery logged")
        t.check(not promcheck.check(open(prom).read())[0], "valid textfile")
        t.check(d.reconfigure("[daemon]\nperiod = 100ms\n"), "reload without [metrics]")
        t.check(wait_for(lambda: not os.path.exists(prom))[0], "a reload that drops the key removes the file")
        p0 = status(d.sock)["period"]
        wait_for(lambda: status(d.sock)["period"] >= p0 + 3)
        t.check(not os.path.exists(prom), "and it is not written again")
    finally:
        t.check(d.stop() == 0, "clean exit")
    for bad in ("vnumad.prom", "/var/lib/x/vnumad.txt", "/var/lib/x/.prom"):
        path = os.path.join(work, "bad.conf")
        with open(path, "w") as f:
            f.write("[metrics]\ntextfile = %s\n" % bad)
        p = subprocess.run([VNUMAD, "--check-config", "--config", path], capture_output=True, text=True, timeout=30)
        t.check(p.returncode == 1 and ("%s:2: [metrics] textfile" % path) in p.stderr,
                "textfile = %s refused with FILE:LINE: %r" % (bad, p.stderr))


def main():
    skip_without_qemu()
    if not VNUMAD or not VNUMACTL:
        raise SystemExit("VNUMAD and VNUMACTL must be set (meson sets them)")
    run_scenarios((scenario_metrics_and_textfile, scenario_textfile_errors), "vnumad-metrics-")


if __name__ == "__main__":
    main()
