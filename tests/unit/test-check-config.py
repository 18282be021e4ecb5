#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vnumad --check-config, as ExecStartPre= and ExecReload= run it: exit 0 and say nothing for a
valid configuration (main file and conf.d), exit 1 with one "FILE:LINE: problem" line on stderr
for a bad one, the line being the one that holds the offending key. Starts no daemon: the check
must return without a socket, libvirt or a host to manage (a missing /run/vnumad, no libvirtd)."""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from vnumatest import VNUMAD, Failures  # noqa: E402

DATA = os.environ["VNUMA_TEST_DATA"]


def check_config(*args):
    p = subprocess.run([VNUMAD, "--check-config", *args], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def error_line(t, what, rc, out, err, path):
    """Checks a failure report; returns the line number it names, or None."""
    t.check(rc == 1, "%s: exit status 1 (got %d)" % (what, rc))
    t.check(out == "", "%s: nothing on stdout (got %r)" % (what, out))
    lines = err.splitlines()
    t.check(len(lines) == 1, "%s: one line on stderr (got %r)" % (what, err))
    m = re.match(re.escape(path) + r":(\d+): \S", lines[0] if lines else "")
    if not t.check(m is not None, "%s: stderr is %s:LINE: problem (got %r)" % (what, path, err)):
        return None
    return int(m.group(1))


def main():
    t = Failures()

    # The fixture with conf.d: valid, silent.
    rc, out, err = check_config("--config", os.path.join(DATA, "config", "good", "vnumad.conf"))
    t.check((rc, out, err) == (0, "", ""), "good fixture: exit 0, silent (got %d %r %r)" % (rc, out, err))

    # Every bad fixture names itself and a line of it that is neither blank nor a comment.
    bad_dir = os.path.join(DATA, "config", "bad")
    for name in sorted(os.listdir(bad_dir)):
        path = os.path.join(bad_dir, name)
        rc, out, err = check_config("--config", path)
        n = error_line(t, name, rc, out, err, path)
        if n is not None:
            with open(path) as f:
                text = f.read().splitlines()
            ok = 1 <= n <= len(text) and text[n - 1].strip() and not text[n - 1].lstrip().startswith("#")
            t.check(bool(ok), "%s: line %d is a line of the file with content (%r)"
                    % (name, n, text[n - 1] if 1 <= n <= len(text) else None))

    with tempfile.TemporaryDirectory(prefix="vnumad-check-config-") as work:
        main_conf = os.path.join(work, "vnumad.conf")
        write(main_conf, "[daemon]\nperiod = 2s\n\n[policy]\nmode = strict\n")
        write(os.path.join(work, "conf.d", "README"), "not ini at all\n")  # not *.conf: ignored
        rc, out, err = check_config("--config", main_conf)
        t.check((rc, out, err) == (0, "", ""), "own config: exit 0, silent (got %d %r %r)" % (rc, out, err))

        # A bad drop-in is found through conf.d next to the main file, and named with its line.
        dropin = os.path.join(work, "conf.d", "50-local.conf")
        write(dropin, "# local\n[daemon]\n\nperiod = soon\n")
        rc, out, err = check_config("--config", main_conf)
        n = error_line(t, "bad drop-in", rc, out, err, dropin)
        t.check(n == 4, "bad drop-in: line 4, where period = soon is (got %s)" % n)
        t.check("period" in err, "bad drop-in: the message names the key (got %r)" % err)

        # A key in the main file that only fails at the right line number.
        os.remove(dropin)
        write(main_conf, "[daemon]\nperiod = 2s\n\n\n[policy]\nmode = sometimes\n")
        rc, out, err = check_config("--config", main_conf)
        n = error_line(t, "bad main file", rc, out, err, main_conf)
        t.check(n == 6, "bad main file: line 6 (got %s)" % n)

        # An explicit file that does not exist is an error, not the defaults.
        missing = os.path.join(work, "missing.conf")
        rc, out, err = check_config("--config", missing)
        t.check(rc == 1 and err.startswith(missing + ": "), "missing file: exit 1, named (got %d %r)" % (rc, err))

        # An unreadable file is an error too (not as root: root reads it anyway).
        if os.geteuid() != 0:
            write(main_conf, "[daemon]\n")
            os.chmod(main_conf, 0)
            rc, out, err = check_config("--config", main_conf)
            t.check(rc == 1 and err.startswith(main_conf + ": "), "unreadable: exit 1 (got %d %r)" % (rc, err))

    # A wrong command line is a usage error, 2, as for the daemon.
    p = subprocess.run([VNUMAD, "--check-config", "--no-such-option"], capture_output=True, text=True, timeout=30)
    t.check(p.returncode == 2, "unknown option: exit 2 (got %d)" % p.returncode)
    t.done()


if __name__ == "__main__":
    main()
