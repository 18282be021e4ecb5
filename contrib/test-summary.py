#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Summarises meson test logs for contrib/test.sh: the kernel each lab test ran on, skips checked
against tests/allowed-skips, and the last line "N passed, N failed".

Usage: test-summary.py ALLOWED-SKIPS TESTLOG.json...   Exits 1 when anything failed."""
import json
import re
import sys


def host_nodes():
    try:
        with open("/sys/devices/system/node/online") as f:
            return f.read().strip()
    except OSError:
        return "0"


CONDITIONS = {
    "one-node-host": lambda: re.fullmatch(r"\d+", host_nodes()) is not None,
}


def read_allowed(path):
    allowed = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            if len(words) != 2 or words[1] not in CONDITIONS:
                sys.exit(f"{path}:{n}: expected 'NAME CONDITION' with CONDITION one of {sorted(CONDITIONS)}")
            allowed[words[0]] = words[1]
    return allowed


def main():
    allowed = read_allowed(sys.argv[1])
    passed = failed = skipped = 0
    bad_skips, kernels = [], []
    for path in sys.argv[2:]:
        setup = re.sub(r"^testlog-?|\.json$", "", path.rsplit("/", 1)[-1]) or "plain"
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                name = r["name"].split(" / ", 1)[-1]
                result = r.get("result")
                if "lab" in r["name"].split(" / ", 1)[0]:
                    m = re.search(r"^lab: kernel (\S+)", r.get("stdout") or "", re.M)
                    kernels.append(f"{name}: {m.group(1) if m else 'no kernel line (the lab did not boot)'}")
                if result in ("OK", "EXPECTEDFAIL"):
                    passed += 1
                elif result == "SKIP":
                    skipped += 1
                    cond = allowed.get(name)
                    if cond is None or not CONDITIONS[cond]():
                        why = "not in tests/allowed-skips" if cond is None else f"'{cond}' does not hold here"
                        bad_skips.append(f"{name} ({setup}): skipped, {why}")
                else:
                    failed += 1
    if kernels:
        print("lab tests ran on:")
        for k in kernels:
            print("  " + k)
    print(f"skipped: {skipped} ({skipped - len(bad_skips)} allowed by tests/allowed-skips)")
    for b in bad_skips:
        print("FAIL: " + b)
    failed += len(bad_skips)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


sys.exit(main())
