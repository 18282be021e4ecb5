#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Each program's options, three ways: every long option its getopt table accepts is in its
--help, every option of --help is in the OPTIONS section of its man page, and every option of
that section is in --help. Arguments: triples PROGRAM MAN_PAGE SOURCE (the .c file with the
getopt table)."""
import re
import subprocess
import sys

LONG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
SHORT = re.compile(r"(?<![\w-])-[a-zA-Z](?![\w-])")


def help_options(program):
    p = subprocess.run([program, "--help"], capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise SystemExit("FAIL: %s --help exited %d: %s" % (program, p.returncode, p.stderr))
    opts = set(LONG.findall(p.stdout))
    # Short options only where an option is described ("  -c, --connect URI").
    for line in p.stdout.splitlines():
        m = re.match(r"\s+(-[a-zA-Z]),", line)
        if m:
            opts.add(m.group(1))
    return opts


def troff_text(s):
    s = s.replace("\\-", "-").replace("\\(dq", '"')
    return re.sub(r"\\f[BIRP]", "", s)


def man_options(path):
    """The options named in the tag line of each .TP of the OPTIONS section."""
    with open(path) as f:
        lines = f.read().splitlines()
    opts, in_section, tag_next = set(), False, False
    for line in lines:
        if line.startswith(".SH"):
            in_section = line.split(None, 1)[1].strip('"') == "OPTIONS"
            continue
        if not in_section:
            continue
        if line.startswith(".TP"):
            tag_next = True
            continue
        if tag_next:
            text = troff_text(line)
            opts |= set(LONG.findall(text)) | set(SHORT.findall(text))
            tag_next = False
    return opts


def getopt_long_names(source):
    with open(source) as f:
        return {"--" + n for n in re.findall(r'\{"([a-z][a-z0-9-]*)",\s*(?:no|required|optional)_argument', f.read())}


def main():
    args = sys.argv[1:]
    if not args or len(args) % 3:
        raise SystemExit("usage: test-man-options.py PROGRAM MAN SOURCE...")
    failed = 0
    for i in range(0, len(args), 3):
        program, man, source = args[i:i + 3]
        name = program.rsplit("/", 1)[-1]
        h, m, g = help_options(program), man_options(man), getopt_long_names(source)
        for what, missing in (("accepted (getopt) but not in --help", g - h),
                              ("in --help but not in the man page's OPTIONS", h - m),
                              ("in the man page's OPTIONS but not in --help", m - h)):
            ok = not missing
            failed += not ok
            print("%s: %s: %s options %s" % ("ok" if ok else "FAIL", name, "no" if ok else len(missing), what) +
                  ("" if ok else ": " + " ".join(sorted(missing))))
        ok = len(h) > 2 and len(m) > 2
        failed += not ok
        print("%s: %s: %d options in --help, %d in the man page" % ("ok" if ok else "FAIL", name, len(h), len(m)))
    sys.exit(1 if failed else 0)


main()
