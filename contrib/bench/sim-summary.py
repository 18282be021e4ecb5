#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Summarise a vnumad-sim CSV against issue #12's acceptance.

    build-sim/src/sim/vnumad-sim --nodes 2,4,8 --vms 10,50,200 --cpu-load 0.5,1.0,1.5 \\
        --seeds 20 --policy all --csv /tmp/sim.csv
    contrib/bench/sim-summary.py /tmp/sim.csv

Per (nodes, vms, cpu_load) group: the mean over seeds of throughput / optimal_throughput for
auto, none, numad and autonuma, and auto's locality and bytes migrated over the lower bound (sum
over sum, as vnumad-sim's table). Acceptance: auto >= 0.98 of optimal_throughput on average in
every group, and auto's throughput not below none's in any single seed. Exit 1 naming the groups
that fail, 2 on unusable input.
"""
import csv
import sys

POLICIES = ("auto", "none", "numad", "autonuma")
TARGET = 0.98


def ratio(row):
    opt = float(row["optimal_throughput"])
    return float(row["throughput"]) / opt if opt > 0 else 1.0


def main(argv):
    if len(argv) != 2:
        print(f"usage: {argv[0]} SIM.csv", file=sys.stderr)
        return 2
    try:
        with open(argv[1], newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        print(f"{argv[1]}: {e.strerror}", file=sys.stderr)
        return 2
    need = {"seed", "nodes", "vms", "cpu_load", "policy", "locality", "bytes_migrated",
            "lower_bound_bytes", "throughput", "optimal_throughput"}
    if not rows or not need <= set(rows[0]):
        print(f"{argv[1]}: not a vnumad-sim CSV with {', '.join(sorted(need))}", file=sys.stderr)
        return 2

    groups = {}  # (nodes, vms, cpu_load) -> policy -> seed -> row, in order of first appearance
    for r in rows:
        key = (int(r["nodes"]), int(r["vms"]), float(r["cpu_load"]))
        groups.setdefault(key, {}).setdefault(r["policy"], {})[r["seed"]] = r

    print(f"{'nodes':>5} {'vms':>4} {'load':>5}  " + " ".join(f"{p:>9}" for p in POLICIES) +
          f"  {'auto loc':>9} {'bytes/LB':>9}  (throughput / optimal_throughput, mean over seeds)")
    failures = []
    for (nodes, vms, load), by_policy in groups.items():
        name = f"{nodes} nodes/{vms} VMs/load {load:g}"
        means = {}
        for p in POLICIES:
            seeds = by_policy.get(p, {})
            means[p] = sum(ratio(r) for r in seeds.values()) / len(seeds) if seeds else None
        auto = by_policy.get("auto", {})
        loc = sum(float(r["locality"]) for r in auto.values()) / len(auto) if auto else None
        lb = sum(float(r["lower_bound_bytes"]) for r in auto.values())
        moved = sum(float(r["bytes_migrated"]) for r in auto.values())
        cells = " ".join(f"{m:9.4f}" if m is not None else f"{'-':>9}" for m in means.values())
        print(f"{nodes:5d} {vms:4d} {load:5.2f}  {cells}  " +
              (f"{loc:9.4f} " if loc is not None else f"{'-':>9} ") +
              (f"{moved / lb:9.3f}" if lb > 0 else f"{'-':>9}"))

        if means["auto"] is None:
            failures.append(f"{name}: no auto runs")
            continue
        if means["auto"] < TARGET:
            failures.append(f"{name}: auto at {means['auto']:.4f} of optimal_throughput (< {TARGET})")
        below = sorted((s for s, r in auto.items()
                        if s in by_policy.get("none", {}) and
                        float(r["throughput"]) < float(by_policy["none"][s]["throughput"])), key=int)
        if below:
            failures.append(f"{name}: auto below none in seed(s) {', '.join(below)}")

    if failures:
        print("\nacceptance FAILED:")
        for f in failures:
            print(f"  {f}")
        return 1
    print("\nacceptance met: auto >= 0.98 of optimal_throughput in every group, never below none")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
