#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vnumad's log in a real journal: a line about a VM carries VNUMAD_VM=NAME, so
`journalctl VNUMAD_VM=web1` finds that VM's lines and no other's.

This machine has no systemd as PID 1, so the test runs its own systemd-journald in a private mount
namespace (tmpfs over /run/systemd, /run/log and /var/log/journal: the host's journal is not
touched) and connects vnumad's stderr to journald's stdout stream with $JOURNAL_STREAM set, as
systemd does for StandardError=journal. journalctl, not vnumad, says what the journal holds."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "pylib"))
from qemu_guest import Guest, skip_without_qemu  # noqa: E402
from vnumatest import VNUMAD, VNUMACTL, Failures, status, wait_for  # noqa: E402

JOURNALD = "/lib/systemd/systemd-journald"


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


def guest(name, workdir):
    os.makedirs(workdir, exist_ok=True)
    return Guest(objects=["memory-backend-ram,id=m0,size=32M", "memory-backend-ram,id=m1,size=32M"],
                 numa=["node,nodeid=0,memdev=m0,cpus=0", "node,nodeid=1,memdev=m1,cpus=1"],
                 smp="2", mem="64M", name=name, workdir=workdir)


def journal_stream(identifier):
    """A stream to journald's stdout socket, with the header systemd sends for a service."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect("/run/systemd/journal/stdout")
    s.shutdown(socket.SHUT_RD)
    # identifier, unit, priority, level prefix, forward to syslog, kmsg, console
    s.sendall(("%s\n\n6\n1\n0\n0\n0\n" % identifier).encode())
    st = os.fstat(s.fileno())
    return s, "%d:%d" % (st.st_dev, st.st_ino)


def journal(*match):
    out = subprocess.run(["journalctl", "--no-pager", "-o", "json"] + list(match),
                         capture_output=True, text=True, timeout=30).stdout
    return [json.loads(ln) for ln in out.splitlines() if ln.strip()]


def run(t, work):
    qmp_dir = os.path.join(work, "qmp.d")
    os.makedirs(qmp_dir)
    jd = subprocess.Popen([JOURNALD], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    guests, d = [], None
    try:
        if not wait_for(lambda: os.path.exists("/run/systemd/journal/stdout"), 10)[0]:
            skip("systemd-journald did not start outside systemd")
        for name in ("web1", "db2"):
            g = guest(name, os.path.join(work, name))
            guests.append(g)
            os.rename(g.qmp_path, os.path.join(qmp_dir, name + ".qmp"))
            g.qmp_path = os.path.join(qmp_dir, name + ".qmp")
        stream, env = journal_stream("vnumad")
        sock = os.path.join(work, "vnumad.sock")
        d = subprocess.Popen([VNUMAD, "--foreground", "--socket", sock, "--log-level", "debug", "--no-libvirt",
                              "--period", "200", "--qmp-dir", qmp_dir],
                             stdout=stream.fileno(), stderr=stream.fileno(), env=dict(os.environ, JOURNAL_STREAM=env))
        stream.close()
        t.check(wait_for(lambda: len(status(sock)["vms"]) == 2, 30)[0], "both VMs managed")
        guests[0].proc.kill()
        guests[0].proc.wait()
        t.check(wait_for(lambda: [v["name"] for v in status(sock)["vms"]] == ["db2"], 30)[0], "web1 dropped")
        d.terminate()
        d.wait(15)

        wait_for(lambda: any(e["MESSAGE"].startswith("VM web1: QEMU") for e in journal("VNUMAD_VM=web1")), 10)
        web = journal("VNUMAD_VM=web1")
        msgs = [e["MESSAGE"] for e in web]
        t.check(any(m.startswith("Managing VM web1 ") for m in msgs), "journalctl VNUMAD_VM=web1: managed: %s" % msgs[:5])
        t.check(any(m.startswith("VM web1: QEMU") and e["PRIORITY"] == "5" for m, e in zip(msgs, web)),
                "journalctl VNUMAD_VM=web1: the drop, at notice: %s" % msgs[-3:])
        t.check(all("web1" in m and "db2" not in m for m in msgs), "only web1's lines: %s" % msgs)
        t.check(all(e.get("_PID") == str(d.pid) and e.get("_TRANSPORT") == "journal" and
                    e.get("SYSLOG_IDENTIFIER") == "vnumad" for e in web),
                "sent natively by vnumad: %s" % [(e.get("_PID"), e.get("_TRANSPORT")) for e in web][:3])
        db = [e["MESSAGE"] for e in journal("VNUMAD_VM=db2")]
        t.check(any(m.startswith("Managing VM db2 ") for m in db) and all("web1" not in m for m in db),
                "journalctl VNUMAD_VM=db2: its own lines: %s" % db[:3])
        rest = journal("_PID=%d" % d.pid)
        start = [e for e in rest if e["MESSAGE"].startswith("vnumad ") and "host nodes" in e["MESSAGE"]]
        t.check(len(start) == 1 and "VNUMAD_VM" not in start[0] and start[0]["PRIORITY"] == "6",
                "a line about no VM has no VNUMAD_VM: %s" % start)
        t.check(not [e for e in rest if e["MESSAGE"].startswith("<")], "no <N> prefixes in the journal")
    finally:
        if d and d.poll() is None:
            d.kill()
            d.wait()
        for g in guests:
            g.stop()
        jd.terminate()
        jd.wait(15)


def main():
    skip_without_qemu()
    if not VNUMAD or not VNUMACTL:
        raise SystemExit("VNUMAD and VNUMACTL must be set (meson sets them)")
    if os.geteuid() != 0:
        skip("needs root (a mount namespace for a journald of its own)")
    if not os.path.exists(JOURNALD) or subprocess.run(["which", "journalctl"], capture_output=True).returncode:
        skip("no systemd-journald or journalctl")
    if os.environ.get("VNUMA_JOURNAL_NS") != "1":
        if subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode != 0:
            skip("cannot make a mount namespace here")
        p = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable, __file__],
                           env=dict(os.environ, VNUMA_JOURNAL_NS="1"))
        sys.exit(p.returncode)
    for path in ("/run/systemd", "/run/log", "/var/log/journal"):
        if os.path.isdir(path) or path != "/var/log/journal":
            os.makedirs(path, exist_ok=True)
            if subprocess.run(["mount", "-t", "tmpfs", "tmpfs", path]).returncode != 0:
                skip("cannot mount a tmpfs on %s in the namespace" % path)
    os.makedirs("/run/systemd/journal", exist_ok=True)
    t = Failures()
    with tempfile.TemporaryDirectory(prefix="vnumad-journal-") as work:
        run(t, work)
    t.done()


if __name__ == "__main__":
    main()
