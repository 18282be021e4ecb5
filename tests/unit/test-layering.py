#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The layering rule of ARCHITECTURE.md, checked on every #include of src/, qmp/, policies/ and
include/vnuma/: a folder may include its own headers and those of layers with a lower number,
never a higher or an equal one (two folders of one layer do not know each other).

The layer table is read from ARCHITECTURE.md itself, so the rule and the check cannot drift apart.
Usage: test-layering.py SOURCE_ROOT"""
import os
import re
import sys

ROW = re.compile(r"^\|\s*(\d+)\s*\|\s*`([a-z/]+)/`\s*\|")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def read_layers(root):
    """folder (as in the tree, e.g. src/host) -> layer number, from ARCHITECTURE.md's table."""
    layers = {}
    with open(os.path.join(root, "ARCHITECTURE.md")) as f:
        for line in f:
            m = ROW.match(line)
            if m:
                layers[m.group(2)] = int(m.group(1))
    if not layers:
        sys.exit("ARCHITECTURE.md has no layer table (rows like '| 2 | `src/host/` | ...')")
    return layers


def header_folder(rel, layers):
    """include/vnuma/F/x.h belongs to the layer folder named F (src/F, or the top-level F)."""
    parts = rel.split("/")
    if len(parts) != 4:
        return None
    name = parts[2]
    for folder in layers:
        if folder.rsplit("/", 1)[-1] == name:
            return folder
    return None


def folder_of(rel, layers):
    if rel.startswith("include/vnuma/"):
        return header_folder(rel, layers)
    best = None
    for folder in layers:
        if rel.startswith(folder + "/") and (best is None or len(folder) > len(best)):
            best = folder
    return best


def resolve(root, rel, inc):
    """The repository path an include names: vnuma/... in include/, else next to the including
    file, else in qmp/ (the only other include folder the build adds)."""
    if inc.startswith("vnuma/"):
        return "include/" + inc
    for base in (os.path.dirname(rel), "qmp"):
        cand = os.path.normpath(os.path.join(base, inc))
        if os.path.exists(os.path.join(root, cand)):
            return cand
    return None


def main():
    root = sys.argv[1]
    layers = read_layers(root)
    problems, checked = [], 0
    for top in ("src", "qmp", "policies", "include/vnuma"):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in sorted(files):
                if not name.endswith((".c", ".h")):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, name), root)
                own = folder_of(rel, layers)
                if own is None:
                    problems.append(f"{rel}: in no layer of ARCHITECTURE.md")
                    continue
                with open(os.path.join(root, rel)) as f:
                    for n, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        checked += 1
                        target = resolve(root, rel, m.group(1))
                        dst = target and folder_of(target, layers)
                        if dst is None:
                            problems.append(f"{rel}:{n}: includes \"{m.group(1)}\", which is in no layer")
                        elif dst != own and layers[dst] >= layers[own]:
                            problems.append(f"{rel}:{n}: {own}/ (layer {layers[own]}) includes \"{m.group(1)}\" "
                                            f"of {dst}/ (layer {layers[dst]}): a layer uses only the layers below it")
    for p in problems:
        print("FAIL: " + p)
    print(f"{checked} includes checked against {len(layers)} layers, {len(problems)} problems")
    return 1 if problems else 0


sys.exit(main())
