# SPDX-License-Identifier: LGPL-2.1-or-later
"""A real libvirtd for the end-to-end tests: start virtlogd/libvirtd when they do not answer,
define and start small TCG domains (type='qemu', 2 guest NUMA cells of 64 MiB with 1 vCPU each)
under a per-process name prefix, read back what libvirt, the cgroups and /proc say about their
vCPU threads, and remove every domain this process defined when it exits, even on failure."""
import atexit
import fcntl
import grp
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time

URI = "qemu:///system"
NS = "urn:x-vnumad:policy:1"
PREFIX_BASE = "vnumad-e2e-"
QEMU = shutil.which("qemu-system-x86_64") or "/usr/bin/qemu-system-x86_64"


def run(argv, timeout=120, check=True):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(argv), p.returncode, (p.stderr or p.stdout).strip()))
    return p


def virsh(*args, check=True, timeout=120):
    return run(["virsh", "-q", "-c", URI] + list(args), timeout=timeout, check=check)


def libvirtd_answers():
    try:
        return run(["virsh", "-c", URI, "version"], timeout=15, check=False).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def wait_libvirtd(seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if libvirtd_answers():
            return True
        time.sleep(0.2)
    return False


def skip_unless_possible():
    """Exit 77 when a genuine prerequisite is missing: root, libvirtd, virtlogd, virsh, QEMU."""
    if os.geteuid() != 0:
        print("SKIP: needs root (qemu:///system, libvirtd)")
        sys.exit(77)
    missing = [b for b in ("libvirtd", "virtlogd", "virsh", "qemu-system-x86_64") if shutil.which(b) is None]
    if missing:
        print("SKIP: not installed: %s" % " ".join(missing))
        sys.exit(77)


def kvm_device_usable_by_qemu_user():
    """libvirt re-probes QEMU's capabilities on every lookup (seconds each, a minute and more per
    define) when it probed with KVM but believes the qemu user cannot open /dev/kvm: a /dev/kvm
    left root:root 0600 (no udev to apply the distribution's rule). Give it to group kvm, 0660,
    as the udev rule would; the domains here stay type='qemu' (TCG) either way."""
    try:
        st = os.stat("/dev/kvm")
        kvm_gid = grp.getgrnam("kvm").gr_gid
    except (FileNotFoundError, KeyError):
        return
    if st.st_gid == kvm_gid and st.st_mode & 0o060 == 0o060:
        return
    os.chown("/dev/kvm", -1, kvm_gid)
    os.chmod("/dev/kvm", stat.S_IMODE(st.st_mode) | 0o060)
    print("note: /dev/kvm was %o gid %d; set group kvm, mode %o (libvirt re-probed QEMU on every call)" %
          (stat.S_IMODE(st.st_mode), st.st_gid, stat.S_IMODE(os.stat("/dev/kvm").st_mode)))


LOCK_PATH = "/run/lock/vnumad-libvirt-tests.lock"


def exclusive_lock(timeout=300):
    """One libvirtd-restarting test at a time: held (flock) until this process exits. Tests that
    restart the shared libvirtd should take the same lock."""
    os.makedirs(os.path.dirname(LOCK_PATH), exist_ok=True)
    fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    deadline = time.monotonic() + timeout
    waited = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise RuntimeError("%s stayed locked for %d s" % (LOCK_PATH, timeout))
            if not waited:
                print("waiting for %s (another libvirt test runs)" % LOCK_PATH)
                waited = True
            time.sleep(0.5)
    os.ftruncate(fd, 0)
    os.write(fd, b"%d\n" % os.getpid())
    return fd  # kept open: the lock lasts as long as the process


def ensure_libvirtd():
    """Start virtlogd and libvirtd (daemonized, no systemd) unless libvirtd already answers."""
    kvm_device_usable_by_qemu_user()
    if libvirtd_answers():
        return True
    start_libvirtd()
    return wait_libvirtd(30)


def start_libvirtd():
    if run(["pgrep", "-x", "virtlogd"], check=False).returncode != 0:
        run(["virtlogd", "-d"], check=False)
    run(["libvirtd", "-d"], check=False)


def _comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except (FileNotFoundError, ProcessLookupError):
        return None


def _ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return None


def libvirtd_pids():
    """The host's libvirtd: the pid in /run/libvirtd.pid (written by `libvirtd -d` as root), else
    processes named libvirtd whose parent is not a libvirtd (libvirtd forks short-lived helpers
    under its own name)."""
    try:
        with open("/run/libvirtd.pid") as f:
            pid = int(f.read().strip())
        if _comm(pid) == "libvirtd":
            return [pid]
    except (OSError, ValueError):
        pass
    p = run(["pgrep", "-x", "libvirtd"], check=False)
    pids = [int(x) for x in p.stdout.split()]
    return [pid for pid in pids if _comm(_ppid(pid) or 0) != "libvirtd"]


def domain_xml(name, vcpupin=None, metadata=None, dimm_slots=0, emulator=None):
    """Two guest cells of 64 MiB and one vCPU each; TCG; no disks (SeaBIOS idles). dimm_slots > 0
    leaves room for that many 128 MiB DIMMs to be hot-plugged. emulator: another <emulator> than
    the real QEMU (a wrapper that ends in it)."""
    cputune = ""
    if vcpupin:
        cputune = "<cputune>%s</cputune>" % "".join("<vcpupin vcpu='%d' cpuset='%s'/>" % (v, c)
                                                       for v, c in sorted(vcpupin.items()))
    meta = "<metadata>%s</metadata>" % metadata if metadata else ""
    if dimm_slots:
        meta += "<maxMemory slots='%d' unit='MiB'>%d</maxMemory>" % (dimm_slots, 128 + 128 * dimm_slots)
    return ("<domain type='qemu'><name>%s</name>%s"
            "<memory unit='MiB'>128</memory><vcpu>2</vcpu>%s"
            "<os><type arch='x86_64' machine='q35'>hvm</type></os>%s"
            "<cpu><numa><cell id='0' cpus='0' memory='64' unit='MiB'/>"
            "<cell id='1' cpus='1' memory='64' unit='MiB'/></numa></cpu>"
            "<on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>"
            "<devices><emulator>%s</emulator><memballoon model='none'/></devices>"
            "</domain>" % (name, meta, cputune, "<features><acpi/></features>" if dimm_slots else "",
                          emulator or QEMU))


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


class Domains:
    """Domains named PREFIX_BASE + pid + '-' + n; all of them go away at exit."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.prefix = "%s%d-" % (PREFIX_BASE, os.getpid())
        self.n = 0
        self.names = []
        self.sweep_stale()
        atexit.register(self.cleanup)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, frame):
        print("signal %d: cleaning up" % signum)
        sys.exit(128 + signum)  # runs atexit

    def sweep_stale(self):
        """Domains a killed earlier run of this test left behind (its pid is gone)."""
        p = virsh("list", "--all", "--name", check=False)
        for name in p.stdout.split():
            m = re.match(re.escape(PREFIX_BASE) + r"(\d+)-\d+$", name)
            if m and not _pid_alive(int(m.group(1))):
                print("removing stale domain %s" % name)
                self._remove(name)

    def new_name(self):
        name = "%s%d" % (self.prefix, self.n)
        self.n += 1
        return name

    def define(self, name=None, vcpupin=None, metadata=None, dimm_slots=0, emulator=None):
        name = name or self.new_name()
        path = os.path.join(self.workdir, name + ".xml")
        with open(path, "w") as f:
            f.write(domain_xml(name, vcpupin=vcpupin, metadata=metadata, dimm_slots=dimm_slots,
                               emulator=emulator))
        if name not in self.names:
            self.names.append(name)
        virsh("define", path)
        return name

    def start(self, name):
        virsh("start", name)
        return name

    def create(self, **kw):
        """Define and start; returns the name."""
        return self.start(self.define(**kw))

    def destroy(self, name, check=True):
        return virsh("destroy", name, check=check)

    def undefine(self, name, check=True):
        return virsh("undefine", name, check=check)

    def _remove(self, name):
        virsh("destroy", name, check=False)
        virsh("undefine", name, check=False)

    def cleanup(self):
        if not self.names:
            return
        if not libvirtd_answers():
            start_libvirtd()
            wait_libvirtd(30)
        for name in self.names:
            self._remove(name)
        left = [n for n in virsh("list", "--all", "--name", check=False).stdout.split() if n in self.names]
        if left:
            print("WARNING: domains left behind: %s" % " ".join(left))
        self.names = []


def state(name):
    p = virsh("domstate", name, check=False)
    return p.stdout.strip() if p.returncode == 0 else None


def qemu_pid(name):
    with open("/run/libvirt/qemu/%s.pid" % name) as f:
        return int(f.read().strip())


def vcpu_tids(pid):
    """vCPU index -> thread id, from the 'CPU N/TCG' thread names libvirt asks QEMU for."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                comm = f.read().strip()
        except FileNotFoundError:
            continue
        m = re.match(r"CPU (\d+)/", comm)
        if m:
            out[int(m.group(1))] = int(tid)
    return out


def parse_cpulist(text):
    cpus = set()
    text = text.strip()
    if not text:
        return cpus
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            cpus.update(range(int(a), int(b) + 1))
        else:
            cpus.add(int(part))
    return cpus


def host_cpus():
    with open("/sys/devices/system/cpu/online") as f:
        return parse_cpulist(f.read())


def node_cpus(node):
    with open("/sys/devices/system/node/node%d/cpulist" % node) as f:
        return parse_cpulist(f.read())


def host_nodes():
    with open("/sys/devices/system/node/online") as f:
        return parse_cpulist(f.read())


def virsh_vcpupin(name):
    """vCPU -> set of CPUs, as `virsh vcpupin DOM` (live) reports."""
    out = {}
    for line in virsh("vcpupin", name, "--live").stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit():
            out[int(parts[0])] = parse_cpulist(parts[1])
    return out


def virsh_emulatorpin(name):
    lines = [line.split() for line in virsh("emulatorpin", name, "--live").stdout.splitlines() if line.strip()]
    return parse_cpulist(lines[-1][-1]) if lines else None  # "-q": just the list ("*: LIST" without)


def thread_affinity(pid, tid):
    with open("/proc/%d/task/%d/status" % (pid, tid)) as f:
        for line in f:
            if line.startswith("Cpus_allowed_list:"):
                return parse_cpulist(line.split(":", 1)[1])
    return None


def _cgroup_mounts():
    """(kind, mount point): ('v1', dir) for the cpuset hierarchy, ('v2', dir) for the unified one."""
    v1 = v2 = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.split(" - ", 1)
            fields, rfields = left.split(), right.split()
            fstype, options = rfields[0], rfields[2] if len(rfields) > 2 else ""
            if fstype == "cgroup" and "cpuset" in options.split(","):
                v1 = fields[4]
            elif fstype == "cgroup2" and v2 is None:
                v2 = fields[4]
    return v1, v2


def thread_cpuset_cgroup(pid, tid):
    """(path of cpuset.cpus, its content as a set) for the cgroup that holds the thread."""
    v1, v2 = _cgroup_mounts()
    with open("/proc/%d/task/%d/cgroup" % (pid, tid)) as f:
        lines = [line.rstrip("\n").split(":", 2) for line in f]
    for hid, controllers, path in lines:
        if v1 and "cpuset" in controllers.split(","):
            base = v1
            break
    else:
        for hid, controllers, path in lines:
            if hid == "0" and v2:
                base = v2
                break
        else:
            return None, None
    file = os.path.join(base + path, "cpuset.cpus")
    try:
        with open(file) as f:
            return file, parse_cpulist(f.read())
    except FileNotFoundError:
        return file, None


def metadata_get(name, live=True):
    args = ["metadata", name, NS]
    if live:
        args.append("--live")
    p = virsh(*args, check=False)
    return p.stdout.strip() if p.returncode == 0 else None


def metadata_set(name, xml, check=True):
    return virsh("metadata", name, NS, "--key", "vnumad", "--set", xml, check=check)


def metadata_remove(name):
    return virsh("metadata", name, NS, "--remove", check=False)


def fmt_cpus(cpus):
    return "none" if cpus is None else ",".join(str(c) for c in sorted(cpus)) or "-"


def e2e_main(run_case, prefix):
    """The main of a vnumad-against-libvirtd test: skip (77) where it cannot run, hold the lock,
    make sure libvirtd answers, then run_case(t, workdir) in a temporary directory and report."""
    import tempfile
    from vnumatest import VNUMACTL, VNUMAD, Failures
    skip_unless_possible()
    if not VNUMAD or not VNUMACTL:
        raise SystemExit("VNUMAD and VNUMACTL must be set (meson sets them)")
    exclusive_lock()
    if not ensure_libvirtd():
        raise SystemExit("libvirtd did not start (virsh -c %s version fails)" % URI)
    t = Failures()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=prefix) as work:
        run_case(t, work)
    print("total %.1f s" % (time.monotonic() - t0))
    t.done()
