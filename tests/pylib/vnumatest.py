# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the Python tests share (tests/qemu, tests/libvirt, tests/bench): checks collected so one
run reports all of them, vnumactl and vnumad as subprocesses, and polling.

meson sets VNUMAD and VNUMACTL to the built programs."""
import atexit
import json
import os
import signal
import subprocess
import sys
import time

VNUMAD = os.environ.get("VNUMAD")
VNUMACTL = os.environ.get("VNUMACTL")


class Failures:
    """Collects assertion failures so one run reports all of them."""

    def __init__(self):
        self.errors = []
        self.checks = 0

    def check(self, cond, msg):
        self.checks += 1
        print("%s: %s" % ("ok" if cond else "FAIL", msg))
        if not cond:
            self.errors.append(msg)
        return cond

    def done(self):
        print("%d checks, %d failed" % (self.checks, len(self.errors)))
        for e in self.errors:
            print("  failed: " + e)
        sys.exit(1 if self.errors else 0)


def run_scenarios(scenarios, prefix):
    """Runs each scenario(t, workdir) in its own temporary directory (only those named on the
    command line, if any), then reports the checks and exits."""
    import tempfile

    t = Failures()
    only = sys.argv[1:]
    for s in scenarios:
        if only and s.__name__ not in only:
            continue
        print("== " + s.__name__)
        with tempfile.TemporaryDirectory(prefix=prefix) as work:
            s(t, work)
    t.done()


def ctl(sock, *args, user=None, check=True, timeout=60):
    """vnumactl [--socket SOCK] ARGS, as root or as user=(uid, gid) or (uid, gid, [supplementary gids])."""
    argv = [VNUMACTL] + (["--socket", sock] if sock else []) + list(args)
    if user is not None:
        groups = ["--groups=" + ",".join(str(g) for g in user[2])] if len(user) > 2 and user[2] else ["--clear-groups"]
        argv = ["setpriv", "--reuid=%d" % user[0], "--regid=%d" % user[1]] + groups + argv
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError("vnumactl %s (%d): %s" % (" ".join(args), p.returncode, p.stderr.strip()))
    return p


def status(sock):
    return json.loads(ctl(sock, "--json", "status").stdout)


def vm_of(st, name):
    """The VM called name in a `vnumactl --json status` document, or None."""
    for v in st["vms"]:
        if v["name"] == name:
            return v
    return None


def wait_for(cond, timeout=20.0, step=0.05):
    """Polls cond() until it returns something true: (that value, seconds waited), or (None, seconds)
    once timeout has passed. A cond that raises (vnumactl failing, a file not there yet) is false."""
    start = time.monotonic()
    while True:
        try:
            v = cond()
            if v:
                return v, time.monotonic() - start
        except (RuntimeError, ValueError, KeyError, TypeError, FileNotFoundError, subprocess.TimeoutExpired):
            pass
        if time.monotonic() - start > timeout:
            return None, time.monotonic() - start
        time.sleep(step)


# Markers of a sanitizer's report (a build with -Db_sanitize=address,undefined under the
# "sanitize" test setup): a daemon that logged one fails the test, even when its exit status or
# the test's own checks did not show it (LeakSanitizer reports at exit, UBSan may continue).
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error: ",
                     "SUMMARY: UndefinedBehaviorSanitizer")
_sanitizer_reports = []


def _fail_on_sanitizer_reports():
    if _sanitizer_reports:
        for path, excerpt in _sanitizer_reports:
            print("FAIL: sanitizer report in %s:\n%s" % (path, excerpt), flush=True)
        sys.stdout.flush()
        os._exit(1)


atexit.register(_fail_on_sanitizer_reports)  # registered first: runs after every Daemon.stop


class Daemon:
    """vnumad in the foreground with a socket, log and (optionally) config of its own in workdir.

    period_ms: --period (a flag wins over the config file; None leaves the period to the config).
    config: text of a vnumad.conf (rewrite it with reconfigure()). libvirt_uri: manage that
    libvirt's domains; without it, --no-libvirt (only the test's own QEMUs, whatever the host runs).
    env: variables added to vnumad's environment."""

    def __init__(self, workdir, tag="main", period_ms=None, args=(), config=None, libvirt_uri=None, env=None):
        self.sock = os.path.join(workdir, "vnumad-%s.sock" % tag)
        self.log_path = os.path.join(workdir, "vnumad-%s.log" % tag)
        self.conf_path = os.path.join(workdir, "vnumad-%s.conf" % tag)
        self.period_ms = period_ms
        self.log = open(self.log_path, "w")
        argv = [VNUMAD, "--foreground", "--socket", self.sock, "--log-level", "debug"]
        argv += ["--libvirt-uri", libvirt_uri] if libvirt_uri else ["--no-libvirt"]
        if period_ms is not None:
            argv += ["--period", str(period_ms)]
        if config is not None:
            with open(self.conf_path, "w") as f:
                f.write(config)
            argv += ["--config", self.conf_path]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv + list(args), stdout=self.log, stderr=subprocess.STDOUT,
                                     env=dict(os.environ, **env) if env else None)
        wait_for(lambda: os.path.exists(self.sock) or self.proc.poll() is not None, 10)
        if not os.path.exists(self.sock):
            raise RuntimeError("vnumad did not create its socket:\n" + self.text())
        self.sock_ready = time.monotonic()
        atexit.register(self.stop)  # also when a signal ends the test

    def text(self, since=0):
        with open(self.log_path) as f:
            return f.read()[since:]

    def mark(self):
        return len(self.text())

    def reconfigure(self, config):
        """Rewrites the config, SIGHUPs vnumad; True once it logged the reload."""
        mark = self.mark()
        with open(self.conf_path, "w") as f:
            f.write(config)
        self.proc.send_signal(signal.SIGHUP)
        done, _ = wait_for(lambda: "Configuration reloaded" in self.text(mark), 10)
        return done is not None

    def stop(self):
        if self.log.closed:
            return self.proc.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        text = self.text()
        for marker in SANITIZER_MARKERS:
            at = text.find(marker)
            if at >= 0:
                _sanitizer_reports.append((self.log_path, text[max(0, at - 200):at + 3000]))
                break
        return self.proc.returncode


def numa_maps_node_bytes(pid, start, end):
    """Bytes per host node (int) that the kernel's /proc/PID/numa_maps shows for the VMAs inside
    [start, end): the ground truth of where a range's pages are."""
    vma_end = {}
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            vma_end[lo] = hi
    per_node = {}
    with open("/proc/%d/numa_maps" % pid) as f:
        for line in f:
            fields = line.split()
            lo = int(fields[0], 16)
            hi = vma_end.get(lo)
            if hi is None or lo < start or hi > end:
                continue
            page = 4096
            for fl in fields:
                if fl.startswith("kernelpagesize_kB="):
                    page = int(fl.split("=")[1]) * 1024
            for fl in fields:
                if fl.startswith("N") and "=" in fl and fl[1:].split("=")[0].isdigit():
                    node, pages = fl[1:].split("=")
                    per_node[int(node)] = per_node.get(int(node), 0) + int(pages) * page
    return per_node


def proc_status_kib(pid, field):
    """A "kB" field of /proc/PID/status (VmRSS, VmHWM, ...), in KiB: the kernel's word, not vnumad's."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def task_cpu_ns(pid):
    """CPU time of every thread of pid in ns, from schedstat (/proc/PID/stat counts 10 ms ticks,
    coarser than a period's work)."""
    ns = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                ns += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that just ended
    return ns


def proc_io(pid, field):
    """A counter of /proc/PID/io (rchar: bytes the process read through read(2)-like calls)."""
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)
