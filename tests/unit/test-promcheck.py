#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The exposition checker the metrics tests rely on (tests/pylib/promcheck.py) catches what it
claims to: each rule is shown failing on a text that breaks it, and a valid text passes. Without
this a checker that accepted everything would make test-metrics pass."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import promcheck  # noqa: E402
from vnumatest import Failures  # noqa: E402

GOOD = """# HELP a_bytes Bytes.
# TYPE a_bytes gauge
a_bytes{vm="x\\"y\\\\z\\nw",cell="0"} 1
a_bytes{vm="plain",cell="0"} 2.5e+06
# HELP b_total Things.
# TYPE b_total counter
b_total 3
# HELP d_seconds Durations.
# TYPE d_seconds histogram
d_seconds_bucket{le="0.1"} 1
d_seconds_bucket{le="1"} 2
d_seconds_bucket{le="+Inf"} 2
d_seconds_sum 0.55
d_seconds_count 2
"""

BAD = {
    "no HELP": "# TYPE a gauge\na 1\n",
    "no TYPE": "# HELP a A.\na 1\n",
    "TYPE after the sample": "# HELP a A.\na 1\n# TYPE a gauge\n",
    "bad name": "# HELP 1a A.\n# TYPE 1a gauge\n1a 1\n",
    "bad char in name": "# HELP a-b A.\n# TYPE a-b gauge\na-b 1\n",
    "counter without _total": "# HELP a_bytes A.\n# TYPE a_bytes counter\na_bytes 1\n",
    "gauge with _total": "# HELP a_total A.\n# TYPE a_total gauge\na_total 1\n",
    "milliseconds": "# HELP a_milliseconds A.\n# TYPE a_milliseconds gauge\na_milliseconds 1\n",
    "MiB": "# HELP a_mib A.\n# TYPE a_mib gauge\na_mib 1\n",
    "unit not last": "# HELP a_bytes_moved A.\n# TYPE a_bytes_moved gauge\na_bytes_moved 1\n",
    "raw quote in label": '# HELP a A.\n# TYPE a gauge\na{vm="x"y"} 1\n',
    "raw backslash escape": '# HELP a A.\n# TYPE a gauge\na{vm="x\\q"} 1\n',
    "raw line feed in label": '# HELP a A.\n# TYPE a gauge\na{vm="x\n"} 1\n',
    "duplicate series": '# HELP a A.\n# TYPE a gauge\na{vm="x"} 1\na{vm="x"} 2\n',
    "family split": '# HELP a A.\n# TYPE a gauge\n# HELP b B.\n# TYPE b gauge\na 1\nb 1\na{x="1"} 1\n',
    "bad value": "# HELP a A.\n# TYPE a gauge\na one\n",
    "no final line feed": "# HELP a A.\n# TYPE a gauge\na 1",
    "histogram not cumulative": GOOD.replace('d_seconds_bucket{le="1"} 2', 'd_seconds_bucket{le="1"} 0'),
    "histogram count": GOOD.replace("d_seconds_count 2", "d_seconds_count 3"),
    "histogram no +Inf": GOOD.replace('d_seconds_bucket{le="+Inf"} 2\n', ""),
}


def main():
    t = Failures()
    problems, samples = promcheck.check(GOOD)
    t.check(problems == [], "a valid text passes: %s" % problems)
    vms = [lb["vm"] for n, lb, _ in samples if n == "a_bytes"]
    t.check(vms == ['x"y\\z\nw', "plain"], "label values unescape: %r" % vms)
    for what, text in BAD.items():
        problems, _ = promcheck.check(text)
        t.check(problems != [], "%s: caught (%s)" % (what, problems[:1]))
    for s in ('a"b', "a\\b", "a\nb", "a\\nb", '\\"', ""):
        t.check(promcheck.unescape_label(promcheck.escape_label(s)) == s, "escape round trip %r" % s)
    t.done()


if __name__ == "__main__":
    main()
