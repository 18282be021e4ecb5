#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""libvirt's placement='auto' answered by vnumad, end to end.

A libvirtd of the test's own runs in a private mount namespace (as test-libvirt does), where
vnumad-numad-shim is bind-mounted over /usr/bin/numad (the path Debian's libvirt runs) and the
test's socket directory over /run/vnumad (the shim's default socket). The host's /usr/bin/numad
and libvirtd are never touched: the mounts die with the namespace. vnumad runs in the same
namespace (it reads QEMU pid files below /run/libvirt/qemu). A domain with <vcpu placement='auto'>
and <numatune><memory mode='strict' placement='auto'/> must start; the nodeset libvirt applied
(virsh numatune, live: the live XML does not show it; and the status XML's <numad nodeset=>)
must equal what `vnumactl advise` answered and what vnumad logged; vnumad must manage the domain
in mode auto (numatune placement='auto' is not an operator pin) from that home and move nothing
in the 10 periods after. Prints the latency of the advice with and without the daemon (median
of 20). This host has one node, so the answer is "0"."""
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from vnumatest import VNUMACTL, VNUMAD, Failures, wait_for  # noqa: E402

SHIM = os.environ.get("VNUMAD_NUMAD_SHIM")
NUMAD = "/usr/bin/numad"
PERIOD_MS = 500


def run(argv, check=True, timeout=120):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise RuntimeError("%s (%d): %s" % (" ".join(argv), p.returncode, (p.stderr or p.stdout).strip()))
    return p


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root")
        return 77
    missing = [b for b in ("libvirtd", "virsh", "unshare", "nsenter", "qemu-system-x86_64") if not shutil.which(b)]
    if missing or not SHIM:
        print("SKIP: not available: %s" % " ".join(missing or ["VNUMAD_NUMAD_SHIM"]))
        return 77
    f = Failures()
    work = tempfile.mkdtemp(prefix="vnumad-test-advise-")
    state = {"libvirtd": 0, "vnumad": None, "made_run": False, "made_numad": False}
    uri = "qemu+unix:///system?socket=%s/run/libvirt-sock" % work
    name = "vnumad-advise-%d" % os.getpid()

    def cleanup():
        if state["libvirtd"]:
            run(["virsh", "-c", uri, "destroy", name], check=False)
        if state["vnumad"] and state["vnumad"].poll() is None:
            state["vnumad"].terminate()
            try:
                state["vnumad"].wait(10)
            except subprocess.TimeoutExpired:
                state["vnumad"].kill()
        if state["libvirtd"]:
            try:
                os.kill(state["libvirtd"], signal.SIGTERM)
                wait_for(lambda: not os.path.exists("/proc/%d" % state["libvirtd"]), 20)
            except ProcessLookupError:
                pass
        if state["made_numad"]:
            os.unlink(NUMAD)
        if state["made_run"]:
            try:
                os.rmdir("/run/vnumad")
            except OSError:
                pass
        shutil.rmtree(work, ignore_errors=True)

    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    try:
        for d in ("run", "lib", "lib/qemu", "cache", "log", "log/qemu", "etc", "sockdir"):
            os.makedirs(os.path.join(work, d))
        with open(os.path.join(work, "etc/qemu.conf"), "w") as fh:
            fh.write('stdio_handler = "file"\n')
        # Mount points the namespace needs. Created here only when missing, and removed again.
        if not os.path.exists("/run/vnumad"):
            os.makedirs("/run/vnumad")
            state["made_run"] = True
        if not os.path.exists(NUMAD):
            open(NUMAD, "w").close()
            state["made_numad"] = True
        sock = os.path.join(work, "sockdir", "vnumad.sock")
        script = os.path.join(work, "start.sh")
        with open(script, "w") as fh:
            fh.write("set -e\nmount --make-rprivate /\n"
                     "mkdir -p /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt /etc/libvirt\n"
                     "for d in run:/run/libvirt lib:/var/lib/libvirt cache:/var/cache/libvirt "
                     "log:/var/log/libvirt etc:/etc/libvirt; do mount --bind \"%(w)s/${d%%%%:*}\" \"${d#*:}\"; done\n"
                     "mount --bind '%(shim)s' %(numad)s\n"
                     "mount --bind '%(w)s/sockdir' /run/vnumad\n"
                     "ln -sf \"$(command -v libvirtd)\" '%(w)s/vnumad-libvirtd'\n"
                     "exec '%(w)s/vnumad-libvirtd' -d -p '%(w)s/libvirtd.pid'\n" %
                     {"w": work, "shim": SHIM, "numad": NUMAD})
        run(["unshare", "-m", "sh", script])
        pidfile = os.path.join(work, "libvirtd.pid")
        wait_for(lambda: os.path.exists(pidfile) and open(pidfile).read().strip(), 30)
        state["libvirtd"] = int(open(pidfile).read())
        if not wait_for(lambda: run(["virsh", "-c", uri, "version"], check=False).returncode == 0, 60)[0]:
            raise RuntimeError("the private libvirtd does not answer")
        ns = ["nsenter", "--mount=/proc/%d/ns/mnt" % state["libvirtd"], "--"]

        # Without a daemon: one reading of the host.
        solo = [run([VNUMACTL, "--socket", sock, "advise", "-w", "2:128"]) for _ in range(20)]
        lat_solo = []
        for _ in range(20):
            t = time.monotonic()
            run([VNUMACTL, "--socket", sock, "advise", "-w", "2:128"])
            lat_solo.append(time.monotonic() - t)
        f.check(all(p.stdout == "0\n" for p in solo), "advise without vnumad answers 0: %r" % solo[0].stdout)

        log = open(os.path.join(work, "vnumad.log"), "w")
        state["vnumad"] = subprocess.Popen(ns + [VNUMAD, "--foreground", "--socket", sock, "--log-level", "debug",
                                                 "--libvirt-uri", uri, "--period", str(PERIOD_MS)],
                                           stdout=log, stderr=subprocess.STDOUT)

        def status():
            p = run([VNUMACTL, "--socket", sock, "--json", "status"], check=False)
            return json.loads(p.stdout) if p.returncode == 0 else None

        if not wait_for(lambda: (status() or {}).get("period", 0) >= 2, 30)[0]:
            raise RuntimeError("vnumad ran no period:\n" + open(log.name).read())
        lat_daemon = []
        for _ in range(20):
            t = time.monotonic()
            p = run([VNUMACTL, "--socket", sock, "advise", "-w", "2:128"])
            lat_daemon.append(time.monotonic() - t)
        advice = p.stdout.strip()
        f.check(advice == "0", "vnumad advises node 0 on this one-node host: %r" % advice)
        print("advise latency, median of 20: with vnumad %.1f ms, without %.1f ms" %
              (statistics.median(lat_daemon) * 1e3, statistics.median(lat_solo) * 1e3))

        bad = run([VNUMACTL, "--socket", sock, "advise", "-w", "two:128"], check=False)
        f.check(bad.returncode == 1 and "two:128" in bad.stderr and not bad.stdout,
                "malformed -w: exit 1, named, nothing on stdout: %d %r" % (bad.returncode, bad.stderr))
        big = run([VNUMACTL, "--socket", sock, "advise", "-w", "1:%d" % (1 << 31)], check=False)
        f.check(big.returncode == 1 and not big.stdout, "memory that fits nowhere: exit 1: %d" % big.returncode)
        daemon_mode = run([SHIM], check=False)
        f.check(daemon_mode.returncode == 1 and "daemon mode" in daemon_mode.stderr,
                "the shim refuses numad's daemon mode: %d %r" % (daemon_mode.returncode, daemon_mode.stderr))

        xml = os.path.join(work, "dom.xml")
        with open(xml, "w") as fh:
            fh.write("<domain type='qemu'><name>%s</name><memory unit='MiB'>128</memory>"
                     "<vcpu placement='auto'>2</vcpu>"
                     "<numatune><memory mode='strict' placement='auto'/></numatune>"
                     "<os><type arch='x86_64' machine='q35'>hvm</type></os>"
                     "<cpu><numa><cell id='0' cpus='0' memory='64' unit='MiB'/>"
                     "<cell id='1' cpus='1' memory='64' unit='MiB'/></numa></cpu>"
                     "<devices><emulator>/usr/bin/qemu-system-x86_64</emulator><video><model type='none'/></video>"
                     "<memballoon model='none'/></devices></domain>" % name)
        mark = len(open(log.name).read())
        run(["virsh", "-c", uri, "create", xml], timeout=300)
        live = run(["virsh", "-c", uri, "numatune", name]).stdout
        m = re.search(r"numa_nodeset\s*:\s*(\S+)", live)
        f.check(m and m.group(1) == advice, "live numatune nodeset equals the advice %s: %r" % (advice, live))
        status_xml = open(os.path.join(work, "run/qemu/%s.xml" % name)).read()
        m = re.search(r"<numad nodeset='([^']*)'", status_xml)
        f.check(m and m.group(1) == advice, "libvirt's status XML has numad nodeset %s: %s" %
                (advice, m.group(0) if m else "none"))
        text = open(log.name).read()[mark:]
        f.check("advise: 2 vCPUs, 128 MiB -> nodes %s" % advice in text,
                "vnumad logged the advice libvirt asked for (-w 2:128)")

        def managed():
            st = status()
            return next((v for v in (st or {}).get("vms", []) if v["name"] == name), None)

        vm, waited = wait_for(managed, 30)
        f.check(vm and vm["policy"]["mode"] == "auto", "vnumad manages it in mode auto: %r" % (vm and vm["policy"]))
        if vm:
            print("vnumad manages the domain after %.1f s" % waited)
            first = status()["period"]
            wait_for(lambda: status()["period"] >= first + 10, 30)
            ex = json.loads(run([VNUMACTL, "--socket", sock, "--json", "explain", name]).stdout)
            moved = [a for a in ex["actions"] if a["type"] == "migrate" or
                     (a["type"] == "set-home" and str(a["node"]) != advice)]
            f.check(not moved, "nothing moved away from the advised home in 10 periods: %r" % moved)
            f.check("started with placement='auto' on nodes %s" % advice in open(log.name).read(),
                    "vnumad took the advised nodes as the first home")
    finally:
        cleanup()
    return f.done()


if __name__ == "__main__":
    sys.exit(main())
