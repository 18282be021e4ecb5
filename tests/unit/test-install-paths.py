#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The generated unit and the installed paths agree: every Exec line runs SBINDIR/vnumad (or
kill), the check runs before start and before the HUP of a reload, the daemon's default config
is SYSCONFDIR/vnumad/vnumad.conf, the hardening keeps what vnumad needs (the syscalls of
@system-service as this systemd lists them, /proc whole), and debian/changelog carries the
project version. Arguments: UNIT SBINDIR SYSCONFDIR SOURCE_ROOT VERSION."""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from vnumatest import VNUMAD, Failures  # noqa: E402

NEEDED_SYSCALLS = ["move_pages", "mbind", "set_mempolicy", "get_mempolicy", "sched_setaffinity",
                   "pidfd_open", "pidfd_send_signal"]


def parse_unit(path):
    entries = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith(("#", "[")):
                k, _, v = line.partition("=")
                entries.append((k, v))
    return entries


def main():
    unit, sbindir, sysconfdir, srcroot, version = sys.argv[1:6]
    t = Failures()
    entries = parse_unit(unit)
    values = {}
    for k, v in entries:
        values.setdefault(k, []).append(v)
    daemon = sbindir + "/vnumad"

    with open(unit) as f:
        text = f.read()
    t.check(not re.search(r"@(sbindir|sysconfdir)@", text), "no @sbindir@/@sysconfdir@ left in the unit")
    for k in ("ExecStartPre", "ExecStart", "ExecReload"):
        for v in values.get(k, []):
            prog = v.split()[0]
            t.check(prog in (daemon, "/bin/kill"), "%s runs %s or /bin/kill (got %s)" % (k, daemon, prog))
    t.check(values.get("ExecStartPre") == [daemon + " --check-config"],
            "ExecStartPre is the config check (got %s)" % values.get("ExecStartPre"))
    t.check(values.get("ExecReload") == [daemon + " --check-config", "/bin/kill -HUP $MAINPID"],
            "ExecReload checks, then sends SIGHUP (got %s)" % values.get("ExecReload"))
    t.check(values.get("Type") == ["notify"], "Type=notify")
    t.check(bool(values.get("WatchdogSec")), "WatchdogSec= is set")
    after = " ".join(values.get("After", [])).split()
    t.check("libvirtd.service" in after and "virtqemud.socket" in after,
            "After= libvirtd.service and virtqemud.socket (got %s)" % after)
    # vnumad reads /proc/PID/pagemap and writes clear_refs of QEMUs run by other users.
    t.check(values.get("ProtectProc", ["default"]) == ["default"] and "ProcSubset" not in values,
            "/proc is left whole (ProtectProc=%s ProcSubset=%s)" % (values.get("ProtectProc"), values.get("ProcSubset")))
    t.check(values.get("UMask") == ["0077"], "UMask=0077")

    # The syscalls vnumad makes: allowed by the filter, as this host's systemd expands the groups.
    filt = " ".join(values.get("SystemCallFilter", [])).split()
    t.check(bool(filt) and not any(f.startswith("~") for f in filt), "SystemCallFilter= is an allow list")
    analyze = shutil.which("systemd-analyze")
    if analyze:
        allowed = set()
        for item in filt:
            if item.startswith("@"):
                out = subprocess.run([analyze, "syscall-filter", item], capture_output=True, text=True).stdout
                allowed.update(w for w in out.split() if re.fullmatch(r"[a-z0-9_]+", w))
            else:
                allowed.add(item)
        for s in NEEDED_SYSCALLS:
            t.check(s in allowed, "SystemCallFilter= allows %s" % s)
    else:
        print("skip: no systemd-analyze to expand the syscall groups")

    # The daemon's default config is the installed one.
    out = subprocess.run([VNUMAD, "--help"], capture_output=True, text=True).stdout
    want = sysconfdir + "/vnumad/vnumad.conf"
    t.check("(default %s)" % want in out, "vnumad's default config is %s" % want)

    with open(os.path.join(srcroot, "debian", "changelog")) as f:
        first = f.readline()
    m = re.match(r"vnumad \(([^)]+)\)", first)
    t.check(m is not None and m.group(1) == version,
            "debian/changelog version is the project version %s (got %r)" % (version, first.strip()))
    t.done()


if __name__ == "__main__":
    main()
