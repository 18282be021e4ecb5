#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vnumactl's live views against a real QEMU guest under a real vnumad on this one-node host:
top (-n refreshes on a pipe, JSON lines, the interactive keys on a pseudo-terminal), wait (0
once the guest is measured local, 1 on a timeout, 2 on usage), rebalance --wait (nothing to
move here), and explain's folded lines with kernel node ids. Where memory is, the kernel says
(numa_maps); which nodes exist, sysfs; that each refresh asked the daemon anew, the period
counter moving. Moving memory between nodes is the lab's (tests/lab/inside-vnumad-converge.sh)."""
import json
import os
import pty
import re
import select
import subprocess
import sys
import termios
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from qemu_guest import Guest, skip_without_qemu  # noqa: E402
from vnumatest import VNUMACTL, Daemon, ctl, numa_maps_node_bytes, run_scenarios, status, vm_of, wait_for  # noqa: E402

MIB = 1 << 20


def two_cell_guest(name, workdir):
    g = Guest(objects=["memory-backend-ram,id=m0,size=64M,prealloc=on",
                       "memory-backend-ram,id=m1,size=64M,prealloc=on"],
              numa=["node,nodeid=0,memdev=m0,cpus=0", "node,nodeid=1,memdev=m1,cpus=1"],
              smp="2", mem="128M", name=name, workdir=workdir)
    # vnumad names a VM after its socket (QEMU keeps listening on a renamed socket).
    moved = os.path.join(workdir, name + ".qmp")
    os.rename(g.qmp_path, moved)
    g.qmp_path = moved
    return g


def online_nodes():
    """Kernel node ids from sysfs ("0" or "0-1,3")."""
    ids = set()
    with open("/sys/devices/system/node/online") as f:
        for part in f.read().strip().split(","):
            lo, _, hi = part.partition("-")
            ids.update(range(int(lo), int(hi or lo) + 1))
    return ids


def kernel_node_bytes(sock, name):
    """Bytes per host node of the guest's cell ranges, as /proc/PID/numa_maps has them (the
    ranges from show, the bytes from the kernel)."""
    doc = json.loads(ctl(sock, "--json", "show", name).stdout)
    dom = doc["domains"][0]
    total = {}
    for cell in dom["guest_nodes"]:
        for r in cell["hva_ranges"]:
            for node, b in numa_maps_node_bytes(dom["pid"], r["start"], r["end"]).items():
                total[node] = total.get(node, 0) + b
    return total


def timed(sock, *args, timeout=120):
    t0 = time.monotonic()
    p = ctl(sock, *args, check=False, timeout=timeout)
    return p, time.monotonic() - t0


def scenario_wait(t, work):
    with two_cell_guest("alpha", work) as g:
        d = Daemon(work, period_ms=300, args=["--qmp", g.qmp_path])
        try:
            # Right after start: wait covers the first measurement; quiet on a pipe.
            p, took = timed(d.sock, "wait", "--timeout", "60", "alpha")
            t.check(p.returncode == 0 and p.stdout == "" and p.stderr == "",
                    "wait alpha: exit 0, nothing printed on a pipe: %d %r %r" % (p.returncode, p.stdout, p.stderr))
            t.check(took < 60, "wait returned before its timeout (%.1f s)" % took)
            v = vm_of(status(d.sock), "alpha")
            t.check(v is not None and v["locality_ratio"] is not None and v["locality_ratio"] >= 0.95,
                    "after wait, status has alpha measured >= 0.95: %s" % (v and v["locality_ratio"]))
            nodes = kernel_node_bytes(d.sock, "alpha")
            t.check(sum(nodes.values()) >= 128 * MIB and set(nodes) <= online_nodes() and len(online_nodes()) == 1,
                    "numa_maps: alpha's 128 MiB present, on this host's one node (so locality 1 is true): %s" % nodes)

            # --locality is a ratio: 1.01 can never be reached and is a usage error, said at once.
            p, took = timed(d.sock, "wait", "--locality", "1.01", "alpha")
            t.check(p.returncode == 2 and p.stderr.startswith("vnumactl: ") and "--locality" in p.stderr and took < 5,
                    "wait --locality 1.01: exit 2 at once, naming the option: %d %r" % (p.returncode, p.stderr))
            p, _ = timed(d.sock, "wait", "--locality", "1", "alpha")
            t.check(p.returncode == 0, "wait --locality 1 (reached on one node): exit 0: %r" % p.stderr)
            p, _ = timed(d.sock, "wait")
            t.check(p.returncode == 2, "wait without a VM: exit 2: %r" % p.stderr)
            p, _ = timed(d.sock, "wait", "--timeout", "-1", "alpha")
            t.check(p.returncode == 2 and "--timeout" in p.stderr, "wait --timeout -1: exit 2: %r" % p.stderr)

            # A VM that is not managed never reaches anything: exit 1 once the timeout passed,
            # not before; a reached VM next to it is not blamed.
            p, took = timed(d.sock, "wait", "--timeout", "1.5", "alpha", "nosuchvm")
            t.check(p.returncode == 1 and 1.5 <= took < 10,
                    "wait alpha nosuchvm --timeout 1.5: exit 1 after the timeout: %d after %.1f s" % (p.returncode, took))
            t.check("nosuchvm" in p.stderr and "alpha" not in p.stderr and p.stderr.startswith("vnumactl: "),
                    "the error names the VM that did not reach it, only that one: %r" % p.stderr)
            p, _ = timed(d.sock, "--json", "wait", "--timeout", "0.5", "alpha", "nosuchvm")
            doc = json.loads(p.stdout or "{}")
            t.check(p.returncode == 1 and doc.get("reached") is False and
                    [(v["name"], v["managed"], v["reached"]) for v in doc.get("vms", [])] ==
                    [("alpha", True, True), ("nosuchvm", False, False)] and
                    [e["what"] for e in doc.get("errors", [])] == ["nosuchvm"],
                    "wait --json: per VM managed and reached, the missing one in errors[]: %s" % doc)
        finally:
            d.stop()
        # No daemon: a failure at once, not a wait until the timeout.
        p, took = timed(d.sock, "wait", "--timeout", "30", "alpha")
        t.check(p.returncode == 1 and took < 10 and "not running" in p.stderr,
                "wait without vnumad: exit 1 at once: %d after %.1f s %r" % (p.returncode, took, p.stderr))


def headers(out):
    return [int(m.group(1)) for m in re.finditer(r"^vnumactl top - \S+  vnumad \S+, period (\d+) ", out, re.M)]


def scenario_top(t, work):
    with two_cell_guest("alpha", work) as g:
        d = Daemon(work, period_ms=300, args=["--qmp", g.qmp_path])
        try:
            ctl(d.sock, "wait", "--timeout", "60", "alpha")
            p, took = timed(d.sock, "top", "-n", "3", "-d", "0.7")
            periods = headers(p.stdout)
            t.check(p.returncode == 0 and len(periods) == 3, "top -n 3: exit 0, 3 refreshes: %d %r" % (p.returncode, p.stdout))
            rows = re.findall(r"^alpha +100\.0 +0\.0 .* auto$", p.stdout, re.M)
            t.check(len(rows) == 3, "each refresh has alpha's row (100.0 %% local, 0.0 MiB off home, auto): %r" % p.stdout)
            t.check("\x1b" not in p.stdout, "no terminal controls on a pipe")
            t.check(took >= 1.4, "-d 0.7: two pauses between three refreshes (%.1f s)" % took)
            t.check(periods == sorted(periods) and periods[-1] > periods[0],
                    "each refresh asked the daemon anew: its period counter moved: %s" % periods)

            p, _ = timed(d.sock, "--json", "top", "-n", "3", "-d", "0.2", "-s", "name")
            lines = [json.loads(x) for x in p.stdout.splitlines()]
            t.check(p.returncode == 0 and [x["iteration"] for x in lines] == [1, 2, 3],
                    "top --json -n 3: three JSON lines: %r" % p.stdout[:500])
            if len(lines) == 3:
                t.check(lines[0]["interval_ns"] is None and lines[1]["interval_ns"] >= 0.2e9 and
                        lines[0]["vms"][0]["migrated_bytes_per_second"] is None and
                        lines[2]["vms"][0]["migrated_bytes_per_second"] == 0 and lines[0]["sort"] == "name",
                        "no rate on the first refresh, 0 B/s after (nothing moves on one node): %s" % lines)
                cells = lines[2]["vms"][0]["guest_nodes"]
                t.check([(c["id"], c["present_bytes"], c["off_home_bytes"]) for c in cells] ==
                        [(0, 64 * MIB, 0), (1, 64 * MIB, 0)] and all(c["home_node"] in online_nodes() for c in cells),
                        "per cell: 64 MiB present, none off home, home a node sysfs lists: %s" % cells)

            p, _ = timed(d.sock, "top", "-n", "1", "nosuchvm")
            t.check(p.returncode == 0 and "alpha" not in p.stdout, "top VM: only the VMs named: %r" % p.stdout)
            for args in (["top", "-n", "0"], ["top", "-s", "size"], ["top", "-d", "0"], ["status", "-n", "2"],
                         ["rebalance", "--wait", "--dry-run", "alpha"], ["status", "--wait"]):
                p, _ = timed(d.sock, *args)
                t.check(p.returncode == 2 and p.stderr.startswith("vnumactl: "),
                        "%s: usage error, exit 2: %d %r" % (" ".join(args), p.returncode, p.stderr))

            # On a terminal: the screen is cleared each refresh, keys sort and show cells, q quits
            # and the terminal is left as it was.
            master, slave = pty.openpty()
            before = termios.tcgetattr(slave)
            proc = subprocess.Popen([VNUMACTL, "--socket", d.sock, "top", "-d", "0.5"], stdin=slave, stdout=slave,
                                    stderr=subprocess.PIPE, start_new_session=True)
            out = b""

            def read_until(pattern, secs=10):
                nonlocal out
                end = time.monotonic() + secs
                while time.monotonic() < end:
                    if re.search(pattern, out):
                        return True
                    r, _, _ = select.select([master], [], [], 0.2)
                    if r:
                        try:
                            out += os.read(master, 65536)
                        except OSError:
                            break
                return bool(re.search(pattern, out))

            t.check(read_until(rb"(?s)\x1b\[H\x1b\[2J.*alpha"), "tty: the screen is cleared, alpha shown: %r" % out[-300:])
            # The header and the key line are written in pieces: wait for the whole screen.
            t.check(read_until(rb"(?s)sort: locality.*q quit"), "tty: default sort locality, the keys listed: %r"
                    % out[-300:])
            os.write(master, b"c")
            t.check(read_until(rb"cell 1 \(home node \d+\)"), "tty: c shows a row per cell: %r" % out[-400:])
            os.write(master, b"n")
            t.check(read_until(rb"sort: name"), "tty: n sorts by name: %r" % out[-300:])
            os.write(master, b"q")
            try:
                rc = proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
            t.check(rc == 0, "tty: q quits with exit 0: %d %r" % (rc, proc.stderr.read()))
            after = termios.tcgetattr(slave)
            t.check(after[3] == before[3], "tty: echo and line mode restored (lflag %#x, was %#x)" % (after[3], before[3]))
            os.close(master)
            os.close(slave)
        finally:
            d.stop()


def scenario_rebalance_wait_and_explain(t, work):
    with two_cell_guest("alpha", work) as g:
        d = Daemon(work, period_ms=500, args=["--qmp", g.qmp_path])
        try:
            ctl(d.sock, "wait", "--timeout", "60", "alpha")
            p0 = status(d.sock)["period"]
            p, took = timed(d.sock, "rebalance", "--wait", "--timeout", "60", "alpha")
            t.check(p.returncode == 0 and "Rebalanced alpha" in p.stdout and "alpha: nothing left to move" in p.stdout,
                    "rebalance --wait alpha: exit 0, nothing left to move: %d %r %r" % (p.returncode, p.stdout, p.stderr))
            t.check("\x1b" not in p.stdout and "\r" not in p.stdout, "rebalance --wait on a pipe: plain lines")
            t.check(re.search(r"^period \d+: alpha: 0\.0 of 0\.0 MiB moved", p.stdout, re.M) is not None,
                    "a progress line: 0 of 0 MiB: %r" % p.stdout)
            t.check(status(d.sock)["period"] > p0, "the rebalance ran a period")
            m = re.search(r"^Rebalanced alpha, period (\d+):", p.stdout, re.M)
            seen = [int(x) for x in re.findall(r"^period (\d+): alpha:", p.stdout, re.M)]
            t.check(m is not None and seen and max(seen) > int(m.group(1)),
                    "rebalance --wait ends on a period measured after the rebalance's own: %s after %s" %
                    (seen, m and m.group(1)))
            nodes = kernel_node_bytes(d.sock, "alpha")
            t.check(len(nodes) == 1 and sum(nodes.values()) >= 128 * MIB,
                    "numa_maps: all of alpha on one node, nothing could be off home: %s" % nodes)
            p, _ = timed(d.sock, "--json", "rebalance", "--wait", "alpha")
            doc = json.loads(p.stdout or "{}")
            w = doc.get("wait", {})
            t.check(p.returncode == 0 and w.get("done") is True and w.get("off_home_bytes") == 0 and w.get("bytes_moved") == 0,
                    "rebalance --wait --json: done, 0 off home, 0 moved: %s" % w)
            p, _ = timed(d.sock, "rebalance", "--wait", "nosuchvm")
            t.check(p.returncode == 1 and "nosuchvm" in p.stderr, "rebalance --wait of an unknown VM: exit 1: %r" % p.stderr)

            # explain for people: no internal VM id, no node position; nodes that sysfs lists;
            # the migrate rate as the value in effect.
            p = ctl(d.sock, "explain", "alpha")
            st = status(d.sock)
            rate = st["settings"]["migrate_rate"]
            t.check("Migrate rate:  %d MiB/s (vnumad's default)" % (rate // MIB) in p.stdout,
                    "explain shows the default migrate rate as its value (%d MiB/s): %r" % (rate // MIB, p.stdout[:400]))
            actions = p.stdout.split("Recent actions")[1].split("Locality timeline")[0]
            t.check("vm %d" % vm_of(st, "alpha")["id"] not in p.stdout and "node pos" not in p.stdout,
                    "explain names no internal VM id nor node position: %r" % actions)
            said = {int(n) for n in re.findall(r"node (\d+)", actions)}
            t.check(re.search(r"^  cell 0: home set to node \d+, periods? [\d,-]+$", actions, re.M) is not None and
                    said and said <= online_nodes(),
                    "explain's lines: \"cell 0: home set to node N, period P\", N a node sysfs lists: %r" % actions)
            doc = json.loads(ctl(d.sock, "--json", "explain", "alpha").stdout)
            t.check(doc["summary"] and sum(s["actions"] for s in doc["summary"]) == len(doc["actions"]) and
                    doc["migrate_rate_bytes"] == rate and doc["migrate_rate_source"] == "default",
                    "explain --json: the summary folds every raw action; the rate in effect: %s" %
                    {k: doc[k] for k in ("migrate_rate_bytes", "migrate_rate_source")})
        finally:
            d.stop()


if __name__ == "__main__":
    skip_without_qemu()
    run_scenarios([scenario_wait, scenario_top, scenario_rebalance_wait_and_explain], "vnuma-live-")
