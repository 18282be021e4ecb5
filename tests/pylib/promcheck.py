# SPDX-License-Identifier: LGPL-2.1-or-later
"""A checker of the Prometheus text exposition format (version 0.0.4) and of the naming rules,
written from the format's documentation, not from vnumad's code: promtool is not in a small
Debian 12 package (only in `prometheus`), so the tests use this.

check(text) returns (problems, samples): problems is a list of strings (empty: valid), samples a
list of (name, {label: unescaped value}, float value) in file order."""
import math
import re

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
# Units that are not the base unit of what they measure (naming best practices: seconds, bytes).
NOT_BASE = {"milliseconds", "microseconds", "nanoseconds", "ms", "us", "ns", "minutes", "hours", "days",
            "kilobytes", "megabytes", "gigabytes", "kb", "mb", "gb", "kib", "mib", "gib", "percent", "bits"}
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}


def unescape_label(s):
    """The label value an escaped one stands for; ValueError on an escape the format lacks."""
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\":
            nxt = s[i + 1:i + 2]
            if nxt not in ("\\", '"', "n"):
                raise ValueError("bad escape \\%s" % nxt)
            out.append("\n" if nxt == "n" else nxt)
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def escape_label(s):
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def parse_labels(s, i):
    """Parses {a="x",b="y"} starting at s[i] == "{": (labels, index after "}")."""
    labels = {}
    i += 1
    while True:
        if s[i:i + 1] == "}":
            return labels, i + 1
        m = LABEL_NAME.match(s, i)
        if not m:
            raise ValueError("bad label name at %r" % s[i:])
        name = m.group(0)
        i = m.end()
        if s[i:i + 2] != '="':
            raise ValueError("expected =\" after label %s" % name)
        i += 2
        start = i
        while i < len(s) and s[i] != '"':
            if s[i] == "\n":
                raise ValueError("raw line feed in label %s" % name)
            i += 2 if s[i] == "\\" else 1
        if i >= len(s):
            raise ValueError("unterminated value of label %s" % name)
        if name in labels:
            raise ValueError("label %s twice" % name)
        labels[name] = unescape_label(s[start:i])
        i += 1
        if s[i:i + 1] == ",":
            i += 1
        elif s[i:i + 1] != "}":
            raise ValueError("expected , or } after label %s" % name)


def parse_value(v):
    if v in ("NaN", "+Inf", "-Inf", "Inf"):
        return float(v.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", v):
        raise ValueError("bad value %r" % v)
    return float(v)


def family_of(name, types):
    """The family a sample name belongs to: itself, or a histogram's/summary's base name."""
    if name in types:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[:-len(suffix)]
        if name.endswith(suffix) and suffix in SUFFIXES.get(types.get(base), ()):
            return base
    return name


def naming_problems(name, typ):
    out = []
    words = name.split("_")
    bad = [w for w in words if w.lower() in NOT_BASE]
    if bad:
        out.append("%s: not a base unit: %s" % (name, ",".join(bad)))
    if typ == "counter" and not name.endswith("_total"):
        out.append("%s: a counter whose name does not end in _total" % name)
    if typ != "counter" and name.endswith("_total"):
        out.append("%s: a %s named like a counter (_total)" % (name, typ))
    # The unit is the last word (before _total), not buried in the middle.
    core = words[:-1] if words[-1] == "total" else words
    for unit in ("bytes", "seconds"):
        if unit in core[:-1] and core[-1] not in ("bytes", "seconds", "info", "ratio"):
            out.append("%s: unit %s is not the name's suffix" % (name, unit))
    return out


def check(text):
    problems, samples = [], []
    helps, types, seen_series = {}, {}, set()
    done_families, current = set(), None
    if text and not text.endswith("\n"):
        problems.append("no line feed after the last line")
    for n, line in enumerate(text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"), 1):
        where = "line %d %r" % (n, line[:120])
        if line == "":
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[0] == "#" and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not NAME.match(name):
                    problems.append("%s: bad metric name" % where)
                if name in done_families:
                    problems.append("%s: %s after the family's samples" % (where, parts[1]))
                if parts[1] == "HELP":
                    if name in helps:
                        problems.append("%s: second HELP" % where)
                    helps[name] = parts[3] if len(parts) > 3 else ""
                    if re.search(r"\\[^\\n]", helps[name]):
                        problems.append("%s: bad escape in HELP" % where)
                else:
                    if name in types:
                        problems.append("%s: second TYPE" % where)
                    if len(parts) != 4 or parts[3] not in TYPES:
                        problems.append("%s: bad type" % where)
                        continue
                    types[name] = parts[3]
                    problems += naming_problems(name, parts[3])
            continue
        m = re.match(r"[^{ ]+", line)
        name = m.group(0) if m else ""
        if not NAME.match(name):
            problems.append("%s: bad metric name %r" % (where, name))
            continue
        i = len(name)
        labels = {}
        try:
            if line[i:i + 1] == "{":
                labels, i = parse_labels(line, i)
            rest = line[i:]
            if not rest.startswith(" "):
                raise ValueError("no space before the value")
            fields = rest[1:].split(" ")
            if len(fields) not in (1, 2) or (len(fields) == 2 and not re.fullmatch(r"-?\d+", fields[1])):
                raise ValueError("expected a value and an optional integer timestamp")
            value = parse_value(fields[0])
        except ValueError as e:
            problems.append("%s: %s" % (where, e))
            continue
        fam = family_of(name, types)
        if fam not in helps or fam not in types:
            problems.append("%s: family %s has no HELP and TYPE before its first sample" % (where, fam))
        if current != fam:
            if fam in done_families:
                problems.append("%s: family %s is not in one block" % (where, fam))
            if current is not None:
                done_families.add(current)
            current = fam
        key = (name, tuple(sorted(labels.items())))
        if key in seen_series:
            problems.append("%s: duplicate series" % where)
        seen_series.add(key)
        if types.get(fam) == "histogram" and name.endswith("_bucket") and "le" not in labels:
            problems.append("%s: bucket without le" % where)
        if types.get(fam) == "counter" and (value < 0 or math.isnan(value)):
            problems.append("%s: counter value %r" % (where, value))
        samples.append((name, labels, value))
    problems += histogram_problems(samples, types)
    return problems, samples


def histogram_problems(samples, types):
    """Buckets cumulative, ending in le="+Inf" equal to _count."""
    out = []
    for fam, typ in types.items():
        if typ != "histogram":
            continue
        buckets = [(labels, v) for n, labels, v in samples if n == fam + "_bucket"]
        counts = [v for n, _, v in samples if n == fam + "_count"]
        les = [parse_value(lb["le"]) for lb, _ in buckets]
        if les != sorted(les) or not les or les[-1] != math.inf:
            out.append("%s: le bounds not ascending to +Inf: %s" % (fam, les))
        vals = [v for _, v in buckets]
        if vals != sorted(vals):
            out.append("%s: buckets not cumulative: %s" % (fam, vals))
        if len(counts) != 1 or not vals or counts[0] != vals[-1]:
            out.append("%s: _count %s differs from the +Inf bucket %s" % (fam, counts, vals[-1:]))
    return out


def values(samples, name, **match):
    """{frozen labels: value} of the samples of name whose labels include match."""
    return {tuple(sorted(lb.items())): v for n, lb, v in samples
            if n == name and all(lb.get(k) == w for k, w in match.items())}
