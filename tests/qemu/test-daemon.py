#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vnumad on this (one-node) machine with real QEMU guests: discovery from a watched directory,
control socket access rules, dropping a SIGKILLed guest while serving the others, config
errors, reload and clean exit. Placement itself is proven in the lab suite."""
import json
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from qemu_guest import Guest, skip_without_qemu  # noqa: E402
from vnumatest import VNUMACTL, VNUMAD, Daemon, ctl, run_scenarios, status, wait_for  # noqa: E402

def two_cell_guest(name, workdir):
    return Guest(objects=["memory-backend-ram,id=m0,size=64M,prealloc=on",
                          "memory-backend-ram,id=m1,size=64M,prealloc=on"],
                 numa=["node,nodeid=0,memdev=m0,cpus=0", "node,nodeid=1,memdev=m1,cpus=1"],
                 smp="2", mem="128M", name=name, workdir=workdir)


def scenario_config_errors(t, work):
    bad = os.path.join(work, "bad.conf")
    with open(bad, "w") as f:
        f.write("[daemon]\nperiod = 1s\n[policy]\nmode = sometimes\n")
    p = subprocess.run([VNUMAD, "--foreground", "--config", bad, "--socket", os.path.join(work, "x.sock")],
                       capture_output=True, text=True, timeout=30)
    t.check(p.returncode == 1, "malformed config: exit status %d" % p.returncode)
    t.check("%s:4:" % bad in p.stderr and "sometimes" in p.stderr, "error names file:line and value: %r" % p.stderr)
    t.check(not os.path.exists(os.path.join(work, "x.sock")), "no socket left behind")
    p = subprocess.run([VNUMAD, "--foreground", "--config", os.path.join(work, "missing.conf")],
                       capture_output=True, text=True, timeout=30)
    t.check(p.returncode == 1 and "missing.conf" in p.stderr, "missing --config file: %r" % p.stderr)
    p = subprocess.run([VNUMAD, "--period", "fast"], capture_output=True, text=True, timeout=30)
    t.check(p.returncode == 2 and "--period" in p.stderr, "bad flag: %d %r" % (p.returncode, p.stderr))


def scenario_discovery_and_kill(t, work):
    qmp_dir = os.path.join(work, "qmp.d")
    os.makedirs(qmp_dir)
    d = Daemon(work, period_ms=200, args=["--qmp-dir", qmp_dir])
    a_dir, b_dir = os.path.join(work, "a"), os.path.join(work, "b")
    os.makedirs(a_dir)
    os.makedirs(b_dir)
    try:
        t.check(status(d.sock)["vms"] == [], "no VMs at start")
        with two_cell_guest("alpha", a_dir) as a, two_cell_guest("beta", b_dir) as b:
            # Sockets appear in the watched directory after the daemon started (moved there: QEMU
            # keeps listening on a renamed socket). A symbolic link to a socket is refused.
            for g, name in ((a, "alpha"), (b, "beta")):
                moved = os.path.join(qmp_dir, name + ".qmp")
                os.rename(g.qmp_path, moved)
                g.qmp_path = moved
            os.symlink(b.qmp_path, os.path.join(qmp_dir, "gamma.qmp"))
            t.check(wait_for(lambda: len(status(d.sock)["vms"]) == 2)[0], "both guests discovered: %s" % d.text()[-2000:])
            t.check(wait_for(lambda: "gamma.qmp: refused: a symbolic link, not a socket" in d.text())[0],
                    "the symlink is refused, and says why: %s" % d.text()[-2000:])
            st = status(d.sock)
            names = sorted(v["name"] for v in st["vms"])
            t.check(names == ["alpha", "beta"], "names %s" % names)
            t.check(st["sampler"] in ("residency", "residency+hinting", "residency+soft-dirty"), "sampler %r" % st["sampler"])
            t.check(all(v["policy"]["mode"] == "auto" for v in st["vms"]), "default policy auto")
            t.check(wait_for(lambda: all(v["locality_ratio"] == 1.0 for v in status(d.sock)["vms"]))[0],
                    "one-node host: locality 1.0 for both")
            doc = json.loads(ctl(d.sock, "--json", "show", "alpha").stdout)
            t.check([x["name"] for x in doc["domains"]] == ["alpha"], "show alpha")
            t.check(doc["domains"][0]["pid"] == a.pid, "show alpha pid")
            ex = json.loads(ctl(d.sock, "--json", "explain", "alpha").stdout)
            t.check(len(ex["timeline"]) >= 1, "explain has a locality timeline")
            t.check(all(a_["reason"] for a_ in ex["actions"]), "every action has a reason")
            p = ctl(d.sock, "explain", "nosuchvm", check=False)
            t.check(p.returncode == 1 and "nosuchvm" in p.stderr, "unknown VM: %r" % p.stderr)
            pol = json.loads(ctl(d.sock, "--json", "policy", "get", "beta").stdout)
            t.check(pol["policy"]["mode"] == "auto" and pol["source"] == "config [policy]" and pol["name"] == "beta", "policy get: %s" % pol)
            metrics = ctl(d.sock, "metrics").stdout
            t.check('vnumad_vm_locality_ratio{vm="alpha"} 1.000000' in metrics, "metrics: %r" % metrics[:500])

            # SIGKILL one QEMU: vnumad drops it, says so, and keeps serving the other.
            a.proc.kill()
            a.proc.wait()
            t.check(wait_for(lambda: [v["name"] for v in status(d.sock)["vms"]] == ["beta"])[0],
                    "killed guest dropped, other kept: %s" % status(d.sock))
            t.check("alpha" in d.text() and ("gone" in d.text() or "exited" in d.text()),
                    "the drop is logged")
            t.check(d.proc.poll() is None, "vnumad still running")
            period = status(d.sock)["period"]
            t.check(wait_for(lambda: status(d.sock)["period"] > period + 2)[0], "periods keep running")
    finally:
        rc = d.stop()
    t.check(rc == 0, "SIGTERM: exit status %s" % rc)
    t.check(not os.path.exists(d.sock), "socket removed on exit")


def scenario_access_and_reload(t, work):
    conf = os.path.join(work, "vnumad.conf")
    with open(conf, "w") as f:
        f.write("[daemon]\nperiod = 200ms\n")
    os.chmod(work, 0o755)  # like /run/vnumad: the socket file's mode and group decide who connects
    d = Daemon(work, args=["--config", conf])  # no --period: it would override the file
    try:
        st = os.stat(d.sock)
        t.check(st.st_mode & 0o777 == 0o660 and st.st_uid == 0 and st.st_gid == 0,
                "no read group: socket 0660 root:root (%o %d:%d)" % (st.st_mode & 0o777, st.st_uid, st.st_gid))
        p = ctl(d.sock, "status", user=(65534, 65534), check=False)
        t.check(p.returncode == 1 and "permission denied" in p.stderr.lower(),
                "non-root peer refused: %r" % p.stderr)
        # A bad reload is reported and the running configuration stays.
        with open(conf, "w") as f:
            f.write("[daemon]\nperiod = 200ms\ncolour = blue\n")
        d.proc.send_signal(signal.SIGHUP)
        t.check(wait_for(lambda: "Reload failed" in d.text())[0], "bad reload reported")
        t.check("%s:3" % conf in d.text(), "bad reload names file:line")
        t.check(status(d.sock)["period_ms"] == 200, "still running with the old config")
        with open(conf, "w") as f:
            f.write("[daemon]\nperiod = 300ms\ndry-run = yes\n")
        d.proc.send_signal(signal.SIGHUP)
        t.check(wait_for(lambda: status(d.sock)["period_ms"] == 300)[0], "good reload applied: %s" % d.text()[-1500:])
        t.check(status(d.sock)["dry_run"] is True, "dry-run switched on by reload")
        p = ctl(d.sock, "rebalance", "nosuchvm", check=False)
        t.check(p.returncode == 1 and "nosuchvm" in p.stderr, "rebalance of an unknown VM fails clearly")
    finally:
        t.check(d.stop() == 0, "clean exit")


def scenario_read_group(t, work):
    """Members of read-group may read; changes stay root's."""
    conf = os.path.join(work, "vnumad.conf")
    with open(conf, "w") as f:
        f.write("[daemon]\nread-group = nogroup\n")
    os.chmod(work, 0o755)
    d = Daemon(work, period_ms=200, args=["--config", conf])
    try:
        p = ctl(d.sock, "--json", "status", user=(65534, 65534), check=False)
        t.check(p.returncode == 0 and json.loads(p.stdout)["vms"] == [], "read group may read: %r" % p.stderr)
        p = ctl(d.sock, "rebalance", "x", user=(65534, 65534), check=False)
        t.check(p.returncode == 1 and "permission denied" in p.stderr, "read group may not change: %r" % p.stderr)
        p = ctl(d.sock, "status", user=(65534, 1), check=False)
        t.check(p.returncode == 1 and "permission denied" in p.stderr.lower(),
                "outside the group: refused: %r" % p.stderr)
        # Membership the kernel reports for the peer (SO_PEERGROUPS): a supplementary group counts.
        p = ctl(d.sock, "--json", "status", user=(65534, 1, [65534]), check=False)
        t.check(p.returncode == 0 and json.loads(p.stdout or "{}").get("vms") == [],
                "read group as a supplementary group may read: %r" % p.stderr)
    finally:
        t.check(d.stop() == 0, "clean exit")


def main():
    skip_without_qemu()
    if not VNUMAD or not VNUMACTL:
        raise SystemExit("VNUMAD and VNUMACTL must be set (meson sets them)")
    run_scenarios((scenario_config_errors, scenario_discovery_and_kill, scenario_access_and_reload, scenario_read_group), "vnumad-test-")


if __name__ == "__main__":
    main()
