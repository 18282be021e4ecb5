# SPDX-License-Identifier: LGPL-2.1-or-later
"""Start and stop real qemu-system-x86_64 TCG guests for the integration tests."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from vnumatest import numa_maps_node_bytes  # noqa: E402

QEMU = shutil.which("qemu-system-x86_64")


def skip_without_qemu():
    if QEMU is None:
        print("SKIP: qemu-system-x86_64 not installed")
        sys.exit(77)


class Guest:
    """A paused (-S) q35 TCG guest with one vCPU thread per vCPU and the given NUMA layout.

    objects: list of "-object" option strings; numa: list of "-numa" option strings."""

    def __init__(self, objects, numa, smp="4", mem="512M", extra=(), name="t", workdir=None, debug_threads=True):
        self.dir = workdir or tempfile.mkdtemp(prefix="vnuma-qemu-")
        self.qmp_path = os.path.join(self.dir, "qmp.sock")
        argv = [QEMU, "-machine", "q35", "-accel", "tcg,thread=multi", "-cpu", "max", "-nographic",
                "-nodefaults", "-S", "-smp", smp, "-m", mem, "-display", "none",
                "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path]
        if name:
            argv += ["-name", "%s,debug-threads=%s" % (name, "on" if debug_threads else "off")]
        for o in objects:
            argv += ["-object", o]
        for n in numa:
            argv += ["-numa", n]
        argv += list(extra)
        self.argv = argv
        self.log = open(os.path.join(self.dir, "qemu.log"), "w+")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not os.path.exists(self.qmp_path):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.log.seek(0)
                raise RuntimeError("QEMU did not start: %s\n%s" % (" ".join(argv), self.log.read()))
            time.sleep(0.05)
        self.pid = self.proc.pid

    def qmp(self, *commands):
        """Run QMP commands on a short-lived connection; returns their 'return' values."""
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.qmp_path)
        f = s.makefile("rw")
        json.loads(f.readline())
        out = []
        for cmd in [("qmp_capabilities", None)] + list(commands):
            name, args = cmd if isinstance(cmd, tuple) else (cmd, None)
            req = {"execute": name}
            if args:
                req["arguments"] = args
            f.write(json.dumps(req) + "\n")
            f.flush()
            while True:
                reply = json.loads(f.readline())
                if "event" not in reply:
                    break
            if "error" in reply:
                raise RuntimeError("%s: %s" % (name, reply["error"]))
            out.append(reply["return"])
        s.close()
        return out[1:]

    def hmp(self, line):
        return self.qmp(("human-monitor-command", {"command-line": line}))[0]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def read_maps(pid):
    maps = []
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split(None, 5)
            start, end = (int(x, 16) for x in parts[0].split("-"))
            maps.append((start, end, parts[1], parts[5].strip() if len(parts) > 5 else ""))
    return maps


def numa_maps_present(pid, start, end):
    """Bytes per host node that numa_maps reports for the VMAs inside [start, end)."""
    return numa_maps_node_bytes(pid, start, end)
