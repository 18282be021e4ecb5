#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every vnumactl verb's --json document against its JSON Schema (contrib/schema/), with a real
QEMU guest under a real vnumad and libvirt's test driver (test:///default, in-process) for the
policy verbs; and one broken document per schema, which must be refused, so the schemas say
something. Also: errors[] where a part failed, the exit status of a refusal, and bash completion
of VM names from the daemon and of libvirt domain names.

Runs with Debian's /usr/bin/python3 and its python3-jsonschema (contrib/deps.sh): a missing
module fails the test."""
import copy
import glob
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from qemu_guest import Guest, skip_without_qemu  # noqa: E402
from vnumatest import VNUMACTL, Daemon, Failures, ctl, status, wait_for  # noqa: E402

try:
    from jsonschema import Draft202012Validator
except ImportError:
    print("FAIL: the jsonschema module is missing for %s (Debian: apt install python3-jsonschema)" % sys.executable)
    sys.exit(1)

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SCHEMA_DIR = os.path.join(SRC, "contrib", "schema")
COMPLETION = os.path.join(SRC, "contrib", "completion", "vnumactl.bash")
LIBVIRT_TEST = "test:///default"  # libvirt's test driver: a running domain "test", no daemon
VERBS = ["show", "topology", "status", "rebalance", "explain", "metrics", "policy-get", "policy-set",
         "policy-clear", "advise", "top", "wait"]


def load_schemas(t):
    schemas = {}
    for path in sorted(glob.glob(os.path.join(SCHEMA_DIR, "*.schema.json"))):
        with open(path) as f:
            s = json.load(f)
        verb = os.path.basename(path)[:-len(".schema.json")]
        Draft202012Validator.check_schema(s)
        t.check(s.get("$schema") == "https://json-schema.org/draft/2020-12/schema" and s.get("$id"),
                "%s: $schema is draft 2020-12 and $id is set" % verb)
        t.check(s.get("additionalProperties") is False and "schema_version" in s.get("required", []) and
                "errors" in s.get("required", []),
                "%s: closed, schema_version and errors required" % verb)
        schemas[verb] = Draft202012Validator(s)
    t.check(sorted(schemas) == sorted(VERBS), "one schema per verb: %s" % sorted(schemas))
    return schemas


def validate(t, schemas, verb, doc, label):
    errs = ["%s at %s" % (e.message, "/".join(str(p) for p in e.absolute_path))
            for e in schemas[verb].iter_errors(doc)]
    t.check(not errs, "%s validates against %s.schema.json%s" % (label, verb, ": " + "; ".join(errs[:5]) if errs else ""))


def refused(t, schemas, verb, doc, mutate, what):
    bad = copy.deepcopy(doc)
    try:
        mutate(bad)
    except (KeyError, IndexError, TypeError):
        t.check(False, "%s: the sample document lacks what the broken one changes (%s)" % (verb, what))
        return
    t.check(not schemas[verb].is_valid(bad), "%s.schema.json refuses a document with %s" % (verb, what))


def run_json(t, sock, *args, env=None, expect=0):
    argv = [VNUMACTL] + (["--socket", sock] if sock else []) + ["--json"] + list(args)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    t.check(p.returncode == expect, "vnumactl --json %s: exit %d (want %d) %s" %
            (" ".join(args), p.returncode, expect, p.stderr.strip()[:300]))
    try:
        return json.loads(p.stdout)
    except ValueError:
        t.check(False, "vnumactl --json %s prints one JSON document: %r" % (" ".join(args), p.stdout[:300]))
        return {}


def run_json_lines(t, sock, *args):
    """vnumactl --json ARGS printing JSON lines (top): one document per line."""
    argv = [VNUMACTL, "--socket", sock, "--json"] + list(args)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    t.check(p.returncode == 0, "vnumactl --json %s: exit %d %s" % (" ".join(args), p.returncode, p.stderr.strip()[:300]))
    try:
        return [json.loads(line) for line in p.stdout.splitlines()]
    except ValueError:
        t.check(False, "vnumactl --json %s prints one JSON document a line: %r" % (" ".join(args), p.stdout[:300]))
        return []


def complete(words, env=None):
    """What the completion function offers for COMP_WORDS=words (the last one being completed)."""
    script = ('source /usr/share/bash-completion/bash_completion; source "$1"; shift; '
              'COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; '
              '_vnumactl vnumactl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"; '
              'printf "%s\\n" "${COMPREPLY[@]}"')
    e = dict(os.environ, PATH=os.path.dirname(VNUMACTL) + ":" + os.environ.get("PATH", ""))
    e.update(env or {})
    p = subprocess.run(["bash", "-c", script, "bash", COMPLETION] + list(words), capture_output=True,
                       text=True, timeout=60, env=e)
    return sorted(w for w in p.stdout.split("\n") if w)


def main():
    skip_without_qemu()
    import tempfile

    t = Failures()
    schemas = load_schemas(t)
    lv_env = dict(os.environ, LIBVIRT_DEFAULT_URI=LIBVIRT_TEST)
    with tempfile.TemporaryDirectory(prefix="vnuma-schema-") as work:
        docs = {}
        # No daemon needed: topology, show --qmp (before vnumad holds the guest's one QMP client).
        docs["topology"] = run_json(t, None, "topology")
        validate(t, schemas, "topology", docs["topology"], "topology")
        # advise without a daemon (a socket that is not there): one reading of the host.
        nosock = os.path.join(work, "no-vnumad.sock")
        docs["advise host"] = run_json(t, None, "--socket", nosock, "advise", "-w", "2:128")
        validate(t, schemas, "advise", docs["advise host"], "advise without vnumad")
        t.check(docs["advise host"].get("source") == "host" and docs["advise host"].get("nodeset"),
                "advise without vnumad answers from the host: %s" % docs["advise host"])
        docs["advise too big"] = run_json(t, None, "--socket", nosock, "advise", "-w", "1:%d" % (1 << 31), expect=1)
        validate(t, schemas, "advise", docs["advise too big"], "advise of more memory than the host has")
        t.check(docs["advise too big"].get("nodeset") is None and
                [e["what"] for e in docs["advise too big"].get("errors", [])] == ["advise"],
                "advise of too much memory: no nodeset, one error: %s" % docs["advise too big"])
        os.makedirs(os.path.join(work, "g"))
        with Guest(objects=["memory-backend-ram,id=m0,size=64M,prealloc=on",
                            "memory-backend-ram,id=m1,size=64M,prealloc=on"],
                   numa=["node,nodeid=0,memdev=m0,cpus=0", "node,nodeid=1,memdev=m1,cpus=1"],
                   smp="2", mem="128M", name="alpha", workdir=os.path.join(work, "g")) as g:
            # vnumad names a VM after its socket: alpha.qmp (QEMU keeps listening on a renamed socket).
            moved = os.path.join(work, "alpha.qmp")
            os.rename(g.qmp_path, moved)
            g.qmp_path = moved
            doc = run_json(t, None, "show", "--qmp", g.qmp_path)
            validate(t, schemas, "show", doc, "show --qmp")
            t.check([d["name"] for d in doc.get("domains", [])] == ["alpha"] and doc.get("errors") == [],
                    "show --qmp: the guest, no errors")
            # A dead socket next to a live one: listed in errors[], exit status 1.
            dead = os.path.join(work, "dead.qmp")
            part = run_json(t, None, "show", "--qmp", g.qmp_path, "--qmp", dead, expect=1)
            validate(t, schemas, "show", part, "show --qmp with a dead socket")
            t.check([e["what"] for e in part.get("errors", [])] == [dead] and len(part.get("domains", [])) == 1,
                    "the dead socket is in errors[], the live guest still shown: %r" % part.get("errors"))

            d = Daemon(work, period_ms=200, args=["--qmp", g.qmp_path])
            try:
                sock = d.sock
                ok, _ = wait_for(lambda: [v for v in status(sock)["vms"] if v["locality_ratio"] is not None], 30)
                t.check(bool(ok), "vnumad manages alpha and measured it: %s" % d.text()[-1500:])
                docs["status"] = run_json(t, sock, "status")
                docs["show"] = run_json(t, sock, "show")
                docs["show alpha"] = run_json(t, sock, "show", "alpha")
                docs["rebalance"] = run_json(t, sock, "rebalance", "alpha")
                docs["rebalance --dry-run"] = run_json(t, sock, "rebalance", "--dry-run", "alpha")
                docs["rebalance --wait"] = run_json(t, sock, "rebalance", "--wait", "--timeout", "60", "alpha")
                docs["explain"] = run_json(t, sock, "explain", "alpha")
                docs["wait"] = run_json(t, sock, "wait", "--timeout", "60", "alpha")
                docs["wait timeout"] = run_json(t, sock, "wait", "--timeout", "0.5", "nosuchvm", expect=1)
                lines = run_json_lines(t, sock, "top", "-n", "2", "-d", "0.2")
                t.check(len(lines) == 2, "top --json -n 2: two JSON lines: %d" % len(lines))
                for i, line in enumerate(lines):
                    docs["top %d" % (i + 1)] = line
                docs["metrics"] = run_json(t, sock, "metrics")
                docs["advise daemon"] = run_json(t, sock, "advise", "-w", "1:64")
                t.check(docs["advise daemon"].get("source") == "daemon", "advise with vnumad: vnumad answers: %s"
                        % docs["advise daemon"])
                # Not a libvirt domain: libvirt (the test driver) does not know it, the daemon answers.
                docs["policy-get daemon"] = run_json(t, sock, "policy", "get", "alpha", env=lv_env)
                for label, doc in docs.items():
                    verb = label.split()[0]
                    if verb != "topology":
                        validate(t, schemas, verb, doc, label)
                docs["top"] = docs.get("top 2", {})
                t.check(docs["rebalance --wait"].get("wait", {}).get("done") is True and
                        docs["wait"].get("reached") is True and docs["wait timeout"].get("reached") is False,
                        "rebalance --wait done, wait reached, wait on an unknown VM not: %s %s %s" %
                        (docs["rebalance --wait"].get("wait"), docs["wait"], docs["wait timeout"]))
                t.check(docs["show"]["domains"][0].get("policy", {}).get("mode") == "auto" and
                        docs["show"]["domains"][0].get("source") == "qmp",
                        "vnumad's show adds policy and source")
                t.check("vnumad_periods_total" in docs["metrics"].get("text", ""),
                        "metrics --json carries the Prometheus text")
                # One key for a VM.
                names = [docs["status"]["vms"][0]["name"], docs["show"]["domains"][0]["name"],
                         docs["rebalance"].get("name"), docs["explain"].get("name"),
                         docs["policy-get daemon"].get("name"), docs["top"].get("vms", [{}])[0].get("name"),
                         docs["wait"].get("vms", [{}])[0].get("name")]
                t.check(names == ["alpha"] * 7, "status, show, rebalance, explain, policy get, top, wait: name %s" % names)
                t.check(all("domain" not in doc for doc in docs.values()), "no document says \"domain\"")

                # A refusal is exit status 1, with a message that starts "vnumactl:" on a pipe.
                p = ctl(sock, "explain", "nosuchvm", check=False)
                t.check(p.returncode == 1 and p.stderr.startswith("vnumactl: ") and "<3>" not in p.stderr and
                        "nosuchvm" in p.stderr, "unknown VM: exit 1, \"vnumactl: ...\": %d %r" % (p.returncode, p.stderr))
                p = ctl(sock, "--json", "rebalance", "nosuchvm", check=False)
                t.check(p.returncode == 1, "rebalance of an unknown VM: exit 1, got %d" % p.returncode)

                # Completion: VM names from the daemon named by --socket.
                got = complete(["vnumactl", "--socket", sock, "explain", ""])
                t.check(got == ["alpha"], "completion of explain's VM from the daemon: %s" % got)
                got = complete(["vnumactl", "--socket", sock, "policy", "get", "al"], env={"LIBVIRT_DEFAULT_URI": LIBVIRT_TEST})
                t.check(got == ["alpha"], "completion of policy get's VM: %s" % got)
                got = complete(["vnumactl", "--socket", sock, "-c", LIBVIRT_TEST, "policy", "set", ""])
                t.check("test" in got and "alpha" in got,
                        "completion of policy set: libvirt's domains (virsh list) and the daemon's VMs: %s" % got)
            finally:
                d.stop()

        # vnumad told to use a libvirt that is not there: status says so in errors[].
        d = Daemon(work, tag="nolibvirt", period_ms=200,
                   libvirt_uri="qemu+unix:///system?socket=" + os.path.join(work, "no-libvirt.sock"))
        try:
            got, _ = wait_for(lambda: [e for e in status(d.sock)["errors"] if e["what"] == "libvirt"], 10)
            t.check(bool(got), "status with libvirt unreachable: errors[] has a libvirt entry: %s" % got)
            docs["status no libvirt"] = run_json(t, d.sock, "status")
            validate(t, schemas, "status", docs["status no libvirt"], "status with libvirt unreachable")
        finally:
            d.stop()

    # The policy verbs against libvirt's test driver (in-process: nothing persists between calls).
    docs["policy-set"] = run_json(t, None, "-c", LIBVIRT_TEST, "policy", "set", "test", "mode=strict", "nodes=0",
                                  "--config")
    docs["policy-get libvirt"] = run_json(t, None, "-c", LIBVIRT_TEST, "policy", "get", "test")
    docs["policy-clear"] = run_json(t, None, "-c", LIBVIRT_TEST, "policy", "clear", "test", "--live")
    for label in ("policy-set", "policy-get libvirt", "policy-clear"):
        validate(t, schemas, label.split()[0], docs[label], label)
    t.check(docs["policy-set"].get("scope") == "config" and docs["policy-set"].get("policy", {}).get("mode") == "strict",
            "policy set: scope config, mode strict: %s" % docs["policy-set"])
    if "policy-get daemon" in docs:
        t.check(sorted(docs["policy-get libvirt"]) == sorted(docs["policy-get daemon"]),
                "policy get has one shape from libvirt and from vnumad: %s vs %s" %
                (sorted(docs["policy-get libvirt"]), sorted(docs["policy-get daemon"])))

    # One broken document per schema (several for the larger ones): each must be refused.
    def drop(key):
        return lambda d: d.pop(key)

    def setter(path, value):
        def f(d):
            o = d
            for k in path[:-1]:
                o = o[k]
            o[path[-1]] = value
        return f

    broken = [
        ("topology", docs["topology"], setter(["host", "nodes", 0, "mem_total_bytes"], -1), "negative memory"),
        ("show", docs["show"], setter(["domains", 0, "guest_nodes", 0, "locality_ratio"], 1.5), "locality 1.5"),
        ("show", docs["show"], lambda d: d["domains"][0].pop("policy"), "a daemon domain without policy"),
        ("status", docs["status"], setter(["vms", 0, "policy", "mode"], "sometimes"), "an unknown mode"),
        ("status", docs["status"], setter(["errors"], [{"what": "libvirt"}]), "an error without message"),
        ("rebalance", docs["rebalance"], setter(["domain"], "alpha"), "the old key \"domain\""),
        ("explain", docs["explain"], drop("timeline"), "no timeline"),
        ("metrics", docs["metrics"], setter(["text"], 42), "text a number"),
        ("policy-get", docs["policy-get libvirt"], setter(["policy", "pin"], "cpus"), "pin=cpus"),
        ("policy-set", docs["policy-set"], setter(["scope"], "both"), "an unknown scope"),
        ("policy-clear", docs["policy-clear"], setter(["schema_version"], "2"), "schema_version a string"),
        ("advise", docs["advise host"], setter(["nodeset"], "node 0"), "a nodeset that is not a list"),
        ("advise", docs["advise too big"], setter(["errors"], []), "no nodeset and no error"),
        ("status", docs["status"], setter(["vms", 0, "off_home_bytes"], -1), "negative off-home bytes"),
        ("status", docs["status"], lambda d: d["vms"][0]["guest_nodes"][0].pop("home_node"), "a cell without home_node"),
        ("explain", docs["explain"], setter(["summary"], [{"type": "migrate", "text": "x"}]), "a summary line without its fields"),
        ("explain", docs["explain"], setter(["migrate_rate_source"], "vnumad"), "an unknown migrate_rate_source"),
        ("rebalance", docs["rebalance --wait"], setter(["wait", "done"], "yes"), "wait.done a string"),
        ("top", docs["top"], setter(["vms", 0, "locality_ratio"], 1.5), "locality 1.5"),
        ("top", docs["top"], setter(["iteration"], 0), "iteration 0"),
        ("top", docs["top"], setter(["sort"], "size"), "an unknown sort key"),
        ("wait", docs["wait"], setter(["vms"], []), "no VM"),
        ("wait", docs["wait"], lambda d: d["vms"][0].pop("reached"), "a VM without reached"),
    ]
    for verb in VERBS:
        sample = next(doc for label, doc in docs.items() if label.split()[0] == verb)
        refused(t, schemas, verb, sample, lambda d: d.update(unexpected=1), "an unknown top-level key")
        refused(t, schemas, verb, sample, drop("errors"), "no errors[]")
    for verb, doc, mutate, what in broken:
        refused(t, schemas, verb, doc, mutate, what)
    t.done()


main()
