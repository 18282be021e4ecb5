#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""contrib/completion/vnumactl.bash in a real bash with bash-completion: it offers every command
and option that `vnumactl --help` lists, the policy subcommands and keys, and libvirt's domain
names from `virsh list` (libvirt's in-process test driver, test:///default, has the domain
"test"). VM names from a running vnumad are checked in tests/qemu/test-json-schema.py.
Arguments: COMPLETION_FILE; $VNUMACTL is the built vnumactl."""
import os
import re
import shutil
import subprocess
import sys

VNUMACTL = os.environ["VNUMACTL"]
COMPLETION = sys.argv[1]
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"
checks, failed = 0, []


def check(cond, msg):
    global checks
    checks += 1
    print("%s: %s" % ("ok" if cond else "FAIL", msg))
    if not cond:
        failed.append(msg)


def complete(*words, env=None):
    script = ('source %s; source "$1"; shift; '
              'COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; '
              '_vnumactl vnumactl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"; '
              'printf "%%s\\n" "${COMPREPLY[@]}"' % BASH_COMPLETION)
    e = dict(os.environ, PATH=os.path.dirname(VNUMACTL) + ":" + os.environ.get("PATH", ""),
             LIBVIRT_DEFAULT_URI="test:///default")
    e.update(env or {})
    p = subprocess.run(["bash", "-c", script, "bash", COMPLETION, "vnumactl"] + list(words),
                       capture_output=True, text=True, timeout=60, env=e)
    if p.stderr.strip():
        print("  stderr: " + p.stderr.strip())
    return set(w for w in p.stdout.split("\n") if w)


def main():
    for need in (BASH_COMPLETION,):
        if not os.path.exists(need):
            print("FAIL: %s is missing (Debian: bash-completion)" % need)
            sys.exit(1)
    text = subprocess.run([VNUMACTL, "--help"], capture_output=True, text=True, check=True).stdout
    commands = text.split("Options:")[0]
    verbs = {m.group(1) for m in re.finditer(r"^  ([a-z]+)\b", commands, re.M)}
    subverbs = {m.group(1) for m in re.finditer(r"^  policy ([a-z]+)\b", commands, re.M)}
    options = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text))
    options |= {m.group(1) for m in re.finditer(r"^\s+(-[a-zA-Z]),", text, re.M)}
    check(len(verbs) >= 7 and subverbs == {"get", "set", "clear"} and len(options) >= 12,
          "--help lists commands %s, policy %s, options %s" % (sorted(verbs), sorted(subverbs), sorted(options)))

    got = complete("")
    check(got == verbs, "first word: every command: %s (missing %s, extra %s)" %
          (sorted(got), sorted(verbs - got), sorted(got - verbs)))
    got = complete("-")
    check(options <= got, "'-': every option of --help (missing %s)" % sorted(options - got))
    got = complete("--json", "st")
    check(got == {"status"}, "after an option, commands still: %s" % sorted(got))
    got = complete("--socket", "/nonexistent.sock", "--timeout", "5", "e")
    check(got == {"explain"}, "option arguments are skipped: %s" % sorted(got))
    got = complete("--timeout", "")
    check(got == set(), "--timeout takes a number: nothing offered: %s" % sorted(got))
    got = complete("policy", "")
    check(got == subverbs, "policy: get set clear: %s" % sorted(got))
    got = complete("policy", "set", "test", "mode=auto", "--c")
    check(got == {"--config", "--connect"}, "options after the policy arguments: %s" % sorted(got))
    got = complete("policy", "set", "test", "")
    check(got == {"mode=", "nodes=", "pin=", "migrate-rate=", "cell="}, "policy set keys: %s" % sorted(got))
    got = complete("policy", "set", "test", "mode=st")
    check(got == {"strict"}, "policy set mode= values: %s" % sorted(got))
    got = complete("policy", "set", "test", "pin=")
    check(got == {"vcpus", "none"}, "policy set pin= values: %s" % sorted(got))
    got = complete("top", "-s", "")
    check(got == {"locality", "off-home", "rate", "wait", "name"}, "top -s: the sort keys: %s" % sorted(got))
    got = complete("wait", "--locality", "")
    check(got == set(), "--locality takes a ratio: nothing offered: %s" % sorted(got))
    got = complete("top", "-d", "1", "-n", "3", "-s", "name", "--socket", "/nonexistent.sock", "")
    check(got == set(), "top's option arguments are skipped, VM names asked of the daemon (none here): %s" % sorted(got))
    # advise has numad's -w and its own options (vnumactl advise --help).
    p = subprocess.run([VNUMACTL, "advise", "--help"], capture_output=True, text=True, timeout=30)
    advise_opts = set(re.findall(r"^  (-\w|--[a-z-]+)", p.stdout, re.M))
    got = complete("advise", "-")
    check("-w" in advise_opts and advise_opts <= got, "advise: its options %s (missing %s)" %
          (sorted(advise_opts), sorted(advise_opts - got)))
    got = complete("advise", "-w", "")
    check(got == set(), "advise -w takes VCPUS[:MEM_MB]: nothing offered: %s" % sorted(got))

    if shutil.which("virsh") is None:
        check(False, "virsh is missing (Debian: libvirt-clients)")
    else:
        # Domain names from virsh, on the URI given with -c/--connect (else $LIBVIRT_DEFAULT_URI).
        for words in (("-c", "test:///default", "policy", "set", ""),
                      ("--connect", "test:///default", "policy", "clear", "t"),
                      ("policy", "get", "")):
            got = complete(*words, env={"LIBVIRT_DEFAULT_URI": "test:///default"})
            check("test" in got, "%s: libvirt's domain \"test\" from virsh list: %s" % (" ".join(words), sorted(got)))
        got = complete("-c", "test:///nonexistent-driver", "policy", "clear", "")
        check("test" not in got, "-c is passed on to virsh: another URI, not that domain: %s" % sorted(got))

    print("%d checks, %d failed" % (checks, len(failed)))
    sys.exit(1 if failed else 0)


main()
