#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vnumactl's exit status, one case per class of vnumactl(8) EXIT STATUS (0 success, 1 failure,
2 usage error; a refusal by a running vnumad is in tests/qemu/test-json-schema.py), and its
error lines on a pipe: "vnumactl: ...", never journald's "<3>". Starts no daemon: the failures are
a control socket nobody listens on, a sysfs root that is not there and libvirt's test driver
(test:///default, in-process) refusing a change. $VNUMACTL is the built vnumactl; the argument
is a fixture sysfs tree."""
import json
import os
import socket
import subprocess
import sys
import tempfile

VNUMACTL = os.environ["VNUMACTL"]
SYSFS = sys.argv[1]
checks, failed = 0, []


def check(cond, msg):
    global checks
    checks += 1
    print("%s: %s" % ("ok" if cond else "FAIL", msg))
    if not cond:
        failed.append(msg)


def run(*args, prefix=()):
    # stdout and stderr are pipes, not a terminal.
    return subprocess.run(list(prefix) + [VNUMACTL] + list(args), capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def case(want, args, stderr_has=None, prefix=()):
    p = run(*args, prefix=prefix)
    label = " ".join(list(prefix) + ["vnumactl"] + list(args))
    check(p.returncode == want, "%s: exit %d (want %d); stderr %r" % (label, p.returncode, want, p.stderr[:300]))
    lines = p.stderr.splitlines()
    if want != 0:
        check(lines and all(line.startswith("vnumactl: ") for line in lines),
              "%s: every error line starts with \"vnumactl: \" on a pipe: %r" % (label, p.stderr[:300]))
        check("<3>" not in p.stderr and "<4>" not in p.stderr, "%s: no syslog level prefix" % label)
    if stderr_has:
        check(stderr_has in p.stderr, "%s: stderr names %r" % (label, stderr_has))
    return p


def main():
    with tempfile.TemporaryDirectory(prefix="vnuma-exit-") as work:
        # A socket file with nobody listening: connection refused.
        dead = os.path.join(work, "dead.sock")
        s = socket.socket(socket.AF_UNIX)
        s.bind(dead)
        s.close()

        # 0: success, with a document on stdout.
        p = case(0, ["--json", "--sysfs-root", SYSFS, "topology"])
        try:
            doc = json.loads(p.stdout)
            check(doc["schema_version"] == 2 and doc["errors"] == [] and len(doc["host"]["nodes"]) >= 1,
                  "topology --json: schema_version 2, no errors, the fixture's nodes")
        except (ValueError, KeyError) as e:
            check(False, "topology --json prints a document: %s %r" % (e, p.stdout[:200]))
        case(0, ["--help"])
        case(0, ["--version"])
        case(0, ["-c", "test:///default", "--json", "policy", "get", "test"])

        # 1: the daemon is not there, the host cannot be read, libvirt refuses.
        for verb in (["status"], ["show"], ["metrics"], ["explain", "vm1"], ["rebalance", "vm1"]):
            case(1, ["--socket", dead] + verb, dead)
        case(1, ["--socket", os.path.join(work, "missing.sock"), "--json", "status"], "vnumad is not running")
        case(1, ["--sysfs-root", os.path.join(work, "nosys"), "topology"], "nosys")
        # A user outside the read group: the error says which setting grants access.
        if os.geteuid() == 0:
            os.chmod(work, 0o755)
            os.chmod(dead, 0o600)
            case(1, ["--socket", dead, "status"], "read-group=",
                 prefix=("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"))
        case(1, ["--json", "show", "--qmp", os.path.join(work, "no-qemu.qmp")], "no-qemu.qmp")
        case(1, ["-c", "test:///default", "policy", "set", "nosuchdomain", "mode=auto"], "nosuchdomain")
        # An invalid policy is refused before anything is written: not a usage error.
        case(1, ["-c", "test:///default", "--sysfs-root", SYSFS, "policy", "set", "test", "nodes=99"], "99")
        case(1, ["-c", "test:///default", "--sysfs-root", SYSFS, "policy", "set", "test", "mode=sometimes"],
             "sometimes")
        case(1, ["-c", "qemu+unix:///system?socket=" + os.path.join(work, "no-libvirt.sock"), "policy", "set", "test",
              "mode=auto"], "libvirt")

        # The daemon's verbs start without libvirt (its libraries take longer to load than vnumad
        # takes to answer); policy, above, went through vnumactl-libvirt.
        p = subprocess.run(["readelf", "-d", VNUMACTL], capture_output=True, text=True)
        check(p.returncode == 0 and "libvirt" not in p.stdout,
              "vnumactl does not load libvirt (readelf -d: %s)" %
              [ln.split()[-1] for ln in p.stdout.splitlines() if "NEEDED" in ln])

        # 2: usage errors.
        case(2, [])
        case(2, ["frobnicate"], "frobnicate")
        case(2, ["--no-such-option", "status"], "no-such-option")
        case(2, ["--timeout", "soon", "status"], "--timeout")
        case(2, ["--socket"])
        case(2, ["explain"])
        case(2, ["status", "extra"])
        case(2, ["--sysfs-root", SYSFS, "topology", "extra"], "extra")
        case(2, ["policy"])
        case(2, ["policy", "frob", "vm1"])
        case(2, ["policy", "get"])
        case(2, ["policy", "get", "vm1", "extra"])
        case(2, ["--config", "--live", "policy", "clear", "vm1"], "--live")
        case(2, ["-c", "test:///default", "policy", "set", "test", "modeauto"], "KEY=VALUE")
        case(2, ["-c", "test:///default", "policy", "set", "test", "colour=red"], "colour")
        case(2, ["-c", "test:///default", "policy", "set", "test"], "nothing to set")

    print("%d checks, %d failed" % (checks, len(failed)))
    sys.exit(1 if failed else 0)


main()
