#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The peer benchmark's measurements and report (contrib/bench/lab-peers.sh). Python 3 stdlib.

    lab-peers.py sample --map MAP --serial DIR --scenario S --mode M --seconds N
                        --interval-ms I --csv OUT --cells-csv OUT [--record-every 10]
        INSIDE the lab, while the guests run: every --record-every seconds one row
        "scenario,mode,t,locality,work" (t = seconds since the mode started) and one detail row
        per guest cell. The t = 0 row is the state before the mode starts: with --ready FILE
        the sampler creates FILE after it and waits for --go FILE, created once the mode runs.
        A progress line goes to stdout each time.

    lab-peers.py report OUTDIR [--seconds N] [--scenarios a,b,c,d] [--modes none,...]
        On the build machine, over OUTDIR/lab-peers.csv and OUTDIR/lab-peers-cells.csv: the
        tables (stdout and OUTDIR/lab-peers.md), the plot (OUTDIR/lab-peers.svg) and the
        benchmark's own checks; exits 1 when a check failed.

Access locality, per record: for each guest cell, the share of its memory (numa_maps over the
cell's host virtual ranges, tests/lab/truth.py's reader) that is on the node its vCPU ran on;
where the vCPU ran is the CPU it last ran on (/proc/PID/task/TID/stat, field 39), read once a
second over the record's 10 s, so one record averages about ten "last ran on" readings. The
guest's locality is the mean over its cells weighted by each cell's work, so idle cells do not
count. Work: the guest workload's own rate (tests/lab/guest-workload.c, "vnw: t=... node0=...
MiB/s" on the guest serial console), summed over the guest's nodes, averaged over the lines of
the record's 10 s and summed over the guests. vcpu_cpu (cells CSV): the CPUs the cell's vCPU
threads ran over the record (utime + stime of /proc/PID/task/TID/stat): work per CPU second
shows a vCPU that runs but gets little done, e.g. spinning on a sibling that waits for a CPU."""
import argparse
import csv
import glob
import json
import math
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = {
    "a": "one guest, both cells busy (2 busy vCPUs, 1 CPU per node)",
    "b": "one guest, only cell 0 busy",
    "c": "two guests, all 4 cells busy (overcommitted: 4 busy vCPUs, 2 CPUs)",
    "d": "one guest, cell 0 busy, then cell 1 (phase change at half time)",
}
PEERS = ("none", "autonuma", "numad")
MODES = PEERS + ("vnumad", "vnumad-nopin")  # vnumad-nopin: pin = none, neither peer nor checked
WORK_RATIO_MIN = 0.95
LAB_DISTANCE = 20  # the lab's SLIT distance between its two nodes
LOCALITY_MIN = 0.95
LOCALITY_BY = 30  # seconds after the mode started
# The figures compared are medians of the 10-s records after SETTLED s: the nested guests stall
# now and then for tens of seconds in every mode (TCG inside TCG), so a mean over a minute is
# mostly luck, and the first 30 s are the balancer's to converge in.
SETTLED = LOCALITY_BY
VNW_LINE = re.compile(r"^vnw: t=([0-9.]+)s((?: node[0-9]+=[0-9.]+MiB/s)+)\s*$")


# --- inside the lab: sampling ---------------------------------------------------------------------

def task_stat(pid, tid):
    """The fields of /proc/PID/task/TID/stat after the comm's ')': [0] is field 3 (state)."""
    with open(f"/proc/{pid}/task/{tid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def last_cpu(pid, tid):
    """The CPU a thread last ran on: field 39 of its stat."""
    return int(task_stat(pid, tid)[36])


def cpu_seconds(pid, tid):
    """A thread's CPU time in seconds: utime + stime, fields 14 and 15 of its stat."""
    rest = task_stat(pid, tid)
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def vnw_lines(path):
    """[(t, {node: MiB/s})] of a guest's serial log, in order."""
    out = []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                m = VNW_LINE.match(line.replace("\r", "").rstrip("\n"))
                if m:
                    rates = {int(k): float(v) for k, v in re.findall(r"node([0-9]+)=([0-9.]+)MiB/s", m.group(2))}
                    out.append((float(m.group(1)), rates))
    except FileNotFoundError:
        pass
    return out


def window_work(lines, n):
    """{node: MiB/s}: the mean of the last n progress lines (the record's window)."""
    tail = lines[-n:]
    if not tail:
        return {}
    nodes = sorted({k for _, r in tail for k in r})
    return {k: sum(r.get(k, 0.0) for _, r in tail) / len(tail) for k in nodes}


def cmd_sample(args):
    sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "lab"))
    import truth  # noqa: E402  (numa_maps per cell, node CPUs)

    with open(args.map) as f:
        doc = json.load(f)
    cpu_node = {}
    for n in truth.online_nodes():
        for c in truth.node_cpus(n):
            cpu_node[c] = n
    guests = sorted(d["name"] for d in doc["domains"])
    doms = {name: truth.domain(doc, name) for name in guests}
    lines_per_record = max(1, round(args.record_every * 1000 / args.interval_ms))
    out = open(args.csv, "a", newline="")
    cells_out = open(args.cells_csv, "a", newline="")
    w, wc = csv.writer(out), csv.writer(cells_out)
    t0 = time.monotonic()
    # vCPU samples of the current record: {(guest, vcpu index): [node, ...]}
    samples = {}
    # CPU time of each vCPU thread at the last record: {(guest, vcpu index): (monotonic, seconds)}
    cpu_then = {}

    def vcpu_cpu(name, d, v):
        """CPUs the vCPU thread ran since the last record (None at the first): work per CPU
        second tells a vCPU that runs but does little (spinning on its sibling) from one that
        waits for a CPU."""
        try:
            now, sec = time.monotonic(), cpu_seconds(d["pid"], v["tid"])
        except (OSError, IndexError, ValueError):
            return None
        then = cpu_then.get((name, v["index"]))
        cpu_then[(name, v["index"])] = (now, sec)
        return (sec - then[1]) / (now - then[0]) if then and now > then[0] else None

    def sample_vcpus():
        for name, d in doms.items():
            for v in d["vcpus"]:
                try:
                    node = cpu_node.get(last_cpu(d["pid"], v["tid"]))
                except (OSError, IndexError, ValueError):
                    continue  # the QEMU is gone: no sample
                samples.setdefault((name, v["index"]), []).append(node)

    def record(t):
        num = den = 0.0
        total_work = 0.0
        for name, d in doms.items():
            work = window_work(vnw_lines(os.path.join(args.serial, f"{name}.serial")), lines_per_record)
            total_work += sum(work.values())
            try:
                nb = truth.cell_node_bytes(d)
            except (OSError, ValueError):
                nb = {}
            for g in d["guest_nodes"]:
                c = g["id"]
                per = {int(k): b for k, b in nb.get(c, {}).items()}
                present = sum(per.values())
                vnodes = [n for v in d["vcpus"] if v["guest_node"] == c
                          for n in samples.get((name, v["index"]), []) if n is not None]
                loc = (sum(per.get(n, 0) for n in vnodes) / (present * len(vnodes))
                       if present and vnodes else float("nan"))
                cw = work.get(c, 0.0)
                cpus = [vcpu_cpu(name, d, v) for v in d["vcpus"] if v["guest_node"] == c]
                cpu = sum(x for x in cpus if x is not None) if cpus and None not in cpus else float("nan")
                if cw > 0 and not math.isnan(loc):
                    num += cw * loc
                    den += cw
                home = max(sorted(per), key=lambda n: per[n]) if present else ""
                vnode = max(sorted(set(vnodes)), key=vnodes.count) if vnodes else ""
                wc.writerow([args.scenario, args.mode, t, name, c, f"{cw:.1f}", home,
                             ";".join(f"{n}={per[n]}" for n in sorted(per)), vnode,
                             ";".join(f"{n}={vnodes.count(n)}" for n in sorted(set(vnodes))),
                             "" if math.isnan(loc) else f"{loc:.4f}", "" if math.isnan(cpu) else f"{cpu:.3f}"])
        loc_all = num / den if den else float("nan")
        w.writerow([args.scenario, args.mode, t, "" if math.isnan(loc_all) else f"{loc_all:.4f}",
                    f"{total_work:.1f}"])
        out.flush()
        cells_out.flush()
        print(f"lab-peers: [{args.scenario}/{args.mode}] t={t:3d}s locality "
              f"{'-' if math.isnan(loc_all) else f'{loc_all:.3f}'} work {total_work:.1f} MiB/s", flush=True)

    # t = 0: the state before the mode starts (the work of the warm-up's last 10 s).
    for _ in range(3):
        sample_vcpus()
        time.sleep(1)
    record(0)
    if args.ready:
        open(args.ready, "w").close()
        deadline = time.monotonic() + 120
        while not os.path.exists(args.go):
            if time.monotonic() > deadline:
                print(f"lab-peers: [{args.scenario}/{args.mode}] the mode did not start", flush=True)
                return 1
            time.sleep(0.1)
    t0 = time.monotonic()
    t_next = args.record_every
    while t_next <= args.seconds:
        samples.clear()
        # About one vCPU reading a second through the record's window.
        while True:
            now = time.monotonic() - t0
            if now >= t_next:
                break
            time.sleep(min(1.0, t_next - now))
            sample_vcpus()
        record(t_next)
        t_next += args.record_every
    return 0


# --- on the build machine: the report -------------------------------------------------------------

def fnum(s):
    return float(s) if s not in ("", None) else float("nan")


def load_rows(outdir):
    rows = []
    with open(os.path.join(outdir, "lab-peers.csv")) as f:
        for r in csv.DictReader(f):
            rows.append({"scenario": r["scenario"], "mode": r["mode"], "t": int(r["t"]),
                         "locality": fnum(r["locality"]), "work": fnum(r["work"]),
                         "run": int(r.get("run") or 1)})
    cells = []
    path = os.path.join(outdir, "lab-peers-cells.csv")
    if os.path.exists(path):
        with open(path) as f:
            for r in csv.DictReader(f):
                r["t"] = int(r["t"])
                r["run"] = int(r.get("run") or 1)
                cells.append(r)
    return rows, cells


def median(xs):
    xs = sorted(x for x in xs if not math.isnan(x))
    if not xs:
        return float("nan")
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


def fmt(x, spec=".3f"):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def split_at(cells, scenario, t, run):
    """True when, at record t of vnumad's run in scenario, every guest's busy cells have their
    memory (the node holding most of it) on different nodes; None without detail rows."""
    rs = [c for c in cells
          if c["scenario"] == scenario and c["mode"] == "vnumad" and c["t"] == t and c["run"] == run]
    if not rs:
        return None
    by_guest = {}
    for c in rs:
        if float(c["work"] or 0) > 0:
            by_guest.setdefault(c["guest"], []).append(c["home"])
    return all(len(set(h)) == len(h) for h in by_guest.values()) if by_guest else False


def summarize(rows, cells, seconds, scenarios, modes):
    """Per scenario: {mode: stats}, and the list of failed checks (text)."""
    out, failed, notes = {}, [], []
    for s in scenarios:
        per = {}
        for m in MODES:
            rs = sorted((r for r in rows if r["scenario"] == s and r["mode"] == m), key=lambda r: (r["run"], r["t"]))
            if not rs:
                if m in modes:
                    failed.append(f"scenario {s}: no measurements of mode {m} (see its lab logs)")
                continue
            end = max(r["t"] for r in rs)
            last = [r for r in rs if r["t"] > SETTLED]
            at30 = [r for r in rs if r["t"] == LOCALITY_BY]
            per[m] = {
                "work": median([r["work"] for r in last]),
                # Not a check: TCG runs remote memory as fast as local, so the work rate shows a
                # balancer's CPU effects only; this is the work with the memory speed of
                # perf-model.h applied (local share + remote share x 10 / LAB_DISTANCE).
                "model_work": median([r["work"] * (r["locality"] + (1 - r["locality"]) * 10 / LAB_DISTANCE)
                                      for r in last if not math.isnan(r["locality"])]),
                "locality": median([r["locality"] for r in last]),
                "loc30": median([r["locality"] for r in at30]),
                "end": end,
                "runs": sorted({r["run"] for r in rs}),
                "rows": rs,
            }
        peers = [(per[m]["work"], m) for m in PEERS if m in per and not math.isnan(per[m]["work"])]
        best = max(peers) if peers else None
        for m in per:
            per[m]["ratio"] = per[m]["work"] / best[0] if best and best[0] > 0 else float("nan")
        mbest = max([per[m]["model_work"] for m in PEERS if m in per and not math.isnan(per[m]["model_work"])],
                    default=float("nan"))
        for m in per:
            per[m]["model_ratio"] = per[m]["model_work"] / mbest if mbest > 0 else float("nan")
        out[s] = {"modes": per, "best": best}
        if "vnumad" not in per:
            if "vnumad" not in modes:
                notes.append(f"scenario {s}: vnumad was not run, its checks were skipped")
            continue
        v = per["vnumad"]
        for run in v["runs"]:
            end = max(r["t"] for r in v["rows"] if r["run"] == run)
            if seconds and end < seconds:
                failed.append(f"scenario {s}: vnumad's run {run} ended at t={end}s, before {seconds}s")
        if best is None:
            notes.append(f"scenario {s}: no peer was run, the work check was skipped")
        elif not v["ratio"] >= WORK_RATIO_MIN:
            failed.append(f"scenario {s}: vnumad's work {fmt(v['work'], '.1f')} MiB/s is {fmt(v['ratio'], '.3f')} "
                          f"of the best peer's ({best[1]}, {best[0]:.1f} MiB/s); expected >= {WORK_RATIO_MIN}")
        for run in v["runs"] if s in ("a", "d") else ():
            # Every run must converge. t = 0 is the state before the mode started: it does not count.
            rs = [r for r in v["rows"] if r["run"] == run and 0 < r["t"] <= LOCALITY_BY]
            early = [r for r in rs if r["locality"] >= LOCALITY_MIN]
            if s == "a":
                early = [r for r in early if split_at(cells, s, r["t"], run)]
            if not early:
                seen = ", ".join(f"t={r['t']}s {fmt(r['locality'])}"
                                 + ({True: " split", False: " together", None: ""}[split_at(cells, s, r["t"], run)]
                                    if s == "a" else "")
                                 for r in rs)
                failed.append(f"scenario {s}: vnumad's locality did not reach {LOCALITY_MIN} within {LOCALITY_BY} s"
                              + (" with the cells on different nodes" if s == "a" else "")
                              + (f" in run {run}" if len(v["runs"]) > 1 else "") + f" (saw {seen})")
    return out, failed, notes


def per_t(rows, keep=lambda t: True):
    """One record per time: the median over runs (the plot and the phase-change lines)."""
    ts = sorted({r["t"] for r in rows if keep(r["t"])})
    return [{"t": t, **{k: median([r[k] for r in rows if r["t"] == t]) for k in ("locality", "work")}}
            for t in ts]


def tables(summary, seconds):
    lines = []
    for s, sm in summary.items():
        lines.append(f"### Scenario {s}: {SCENARIOS.get(s, s)}")
        lines.append("")
        nruns = max((len(st["runs"]) for st in sm["modes"].values()), default=1)
        if nruns > 1:
            lines.append(f"Medians over the records of {nruns} runs per mode, the modes interleaved.")
            lines.append("")
        best = sm["best"]
        lines.append(f"| mode | work after {SETTLED} s, median (MiB/s) | x best peer{f' ({best[1]})' if best else ''} "
                     f"| locality after {SETTLED} s, median | locality at {LOCALITY_BY} s "
                     f"| work x memory speed (model), x best peer |")
        lines.append("|---|---|---|---|---|---|")
        for m in MODES:
            if m not in sm["modes"]:
                continue
            st = sm["modes"][m]
            lines.append(f"| {m} | {fmt(st['work'], '.1f')} | {fmt(st['ratio'], '.2f')} | {fmt(st['locality'])} "
                         f"| {fmt(st['loc30'])} | {fmt(st['model_ratio'], '.2f')} |")
        lines.append("")
        if s == "d" and seconds:
            # Not a check: how each mode followed the phase change (locality per record after it).
            tp = seconds // 2
            for m, st in sm["modes"].items():
                after = per_t(st["rows"], lambda t: tp < t <= tp + LOCALITY_BY)
                lines.append(f"- {m}: locality after the phase change at {tp} s: "
                             + ", ".join(f"t={r['t']}s {fmt(r['locality'], '.2f')}" for r in after))
            lines.append("")
    return "\n".join(lines)


COLORS = {"none": "#7f7f7f", "autonuma": "#1f77b4", "numad": "#ff7f0e", "vnumad": "#2ca02c", "vnumad-nopin": "#98df8a"}


def svg_plot(summary, seconds):
    pw, ph, ml, mr, mt, mb = 420, 200, 60, 20, 40, 40  # one chart and its margins
    cw, chh = ml + pw + mr, mt + ph + mb
    width, height = 2 * cw, len(summary) * chh + 40
    e = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
         f'font-family="sans-serif" font-size="11">',
         f'<rect width="{width}" height="{height}" fill="white"/>']
    # Legend.
    x = 10
    for m in MODES:
        e.append(f'<line x1="{x}" y1="15" x2="{x + 24}" y2="15" stroke="{COLORS[m]}" stroke-width="2"/>')
        e.append(f'<text x="{x + 28}" y="19">{m}</text>')
        x += 100
    tmax = max([seconds or 0] + [st["end"] for sm in summary.values() for st in sm["modes"].values()]) or 1
    for row, (s, sm) in enumerate(summary.items()):
        wmax = max([r["work"] for st in sm["modes"].values() for r in st["rows"] if not math.isnan(r["work"])] + [1])
        wmax = nice_ceiling(wmax)
        for col, (key, ymax, label) in enumerate((("locality", 1.0, "access locality"),
                                                  ("work", wmax, "guest work (MiB/s)"))):
            ox, oy = col * cw + ml, 30 + row * chh + mt
            e.append(f'<text x="{ox}" y="{oy - 8}" font-weight="bold">{s}: {label}</text>')
            e.append(f'<rect x="{ox}" y="{oy}" width="{pw}" height="{ph}" fill="none" stroke="#000"/>')
            for i in range(5):
                yv = ymax * i / 4
                y = oy + ph - ph * i / 4
                e.append(f'<line x1="{ox}" y1="{y:.1f}" x2="{ox + pw}" y2="{y:.1f}" stroke="#ddd"/>')
                e.append(f'<text x="{ox - 5}" y="{y + 4:.1f}" text-anchor="end">'
                         f'{yv:.2f}</text>' if key == "locality" else
                         f'<text x="{ox - 5}" y="{y + 4:.1f}" text-anchor="end">{yv:.0f}</text>')
            step = 30 if tmax > 60 else 10
            for tv in range(0, int(tmax) + 1, step):
                xx = ox + pw * tv / tmax
                e.append(f'<line x1="{xx:.1f}" y1="{oy + ph}" x2="{xx:.1f}" y2="{oy + ph + 4}" stroke="#000"/>')
                e.append(f'<text x="{xx:.1f}" y="{oy + ph + 16}" text-anchor="middle">{tv}</text>')
            e.append(f'<text x="{ox + pw / 2}" y="{oy + ph + 32}" text-anchor="middle">'
                     f'seconds since the mode started</text>')
            if s == "d" and seconds:
                xx = ox + pw * (seconds // 2) / tmax
                e.append(f'<line x1="{xx:.1f}" y1="{oy}" x2="{xx:.1f}" y2="{oy + ph}" stroke="#000" '
                         f'stroke-dasharray="4,3"/>')
                e.append(f'<text x="{xx + 3:.1f}" y="{oy + 12}">phase change</text>')
            for m in MODES:
                st = sm["modes"].get(m)
                if not st:
                    continue
                pts = [(ox + pw * r["t"] / tmax, oy + ph - ph * min(r[key], ymax) / ymax)
                       for r in per_t(st["rows"]) if not math.isnan(r[key])]
                if pts:
                    e.append(f'<polyline fill="none" stroke="{COLORS[m]}" stroke-width="1.8" points="'
                             + " ".join(f"{px:.1f},{py:.1f}" for px, py in pts) + '"/>')
    e.append("</svg>")
    return "\n".join(e) + "\n"


def nice_ceiling(x):
    p = 10 ** math.floor(math.log10(x))
    for f in (1, 2, 2.5, 5, 10):
        if x <= f * p:
            return f * p
    return 10 * p


def balancer_cpu(outdir):
    """The balancers' own CPU seconds per scenario (MODE/balancer-cpu.csv, written in the lab)."""
    rows = []
    for m in MODES:
        for d in sorted(glob.glob(os.path.join(outdir, m)) + glob.glob(os.path.join(outdir, m + "-r*"))):
            run = d[len(os.path.join(outdir, m)):].replace("-r", " run ")
            try:
                with open(os.path.join(d, "balancer-cpu.csv")) as f:
                    rows += [[*line.strip().split(","), run] for line in f if line.strip()]
            except OSError:
                pass
    if not rows:
        return ""
    return ("\nBalancer CPU time over each scenario (seconds, utime + stime of the daemon; the kernel's "
            "AutoNUMA is not counted):\n\n" + "\n".join(f"- {s} {m}{run}: {c}" for s, m, c, run in rows) + "\n")


def cmd_report(args):
    rows, cells = load_rows(args.outdir)
    scenarios = args.scenarios.split(",") if args.scenarios else sorted({r["scenario"] for r in rows})
    modes = args.modes.split(",") if args.modes else sorted({r["mode"] for r in rows})
    summary, failed, notes = summarize(rows, cells, args.seconds, scenarios, modes)
    text = tables(summary, args.seconds) + balancer_cpu(args.outdir)
    print(text)
    with open(os.path.join(args.outdir, "lab-peers.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(args.outdir, "lab-peers.svg"), "w") as f:
        f.write(svg_plot(summary, args.seconds))
    for n in notes:
        print(f"note: {n}")
    print(f"checks: vnumad's work >= {WORK_RATIO_MIN} x the best peer's in every scenario; "
          f"locality >= {LOCALITY_MIN} within {LOCALITY_BY} s in a (cells on different nodes) and d")
    for fl in failed:
        print(f"FAIL: {fl}")
    print("lab-peers: all checks passed" if not failed else f"lab-peers: {len(failed)} check(s) failed")
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample")
    s.add_argument("--map", required=True)
    s.add_argument("--serial", required=True)
    s.add_argument("--scenario", required=True)
    s.add_argument("--mode", required=True)
    s.add_argument("--seconds", type=int, required=True)
    s.add_argument("--interval-ms", type=int, required=True)
    s.add_argument("--record-every", type=int, default=10)
    s.add_argument("--csv", required=True)
    s.add_argument("--cells-csv", required=True)
    s.add_argument("--ready", help="create this file after the t = 0 record, then wait for --go")
    s.add_argument("--go", help="the mode has started: t counts from here")
    r = sub.add_parser("report")
    r.add_argument("outdir")
    r.add_argument("--seconds", type=int, default=0)
    r.add_argument("--scenarios", default="")
    r.add_argument("--modes", default="")
    args = ap.parse_args()
    return cmd_sample(args) if args.cmd == "sample" else cmd_report(args)


if __name__ == "__main__":
    sys.exit(main())
