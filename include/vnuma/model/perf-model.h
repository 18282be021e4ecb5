/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The performance model, defined once and used by the planner, the simulator and the benchmarks
 * (vnumad(8), PERFORMANCE MODEL).
 *
 * A vCPU's throughput, relative to running alone on a CPU next to all of its memory, is
 *
 *   cpu_share(its node) x memory_speed(where its memory is)
 *
 * - cpu_share = min(1, CPUs of the node / CPU demand on the node). The demand is what every
 *   runnable thread there would run if it could: each vCPU's run time plus the time it waited
 *   for a CPU (schedstat's run_delay), at most one CPU (snap_vcpu_demand), plus the host's other
 *   work. Run time alone is capped by
 *   the contention it should reveal.
 * - memory_speed = local share + remote share x (10 / SLIT distance). ACPI's SLIT gives each
 *   node pair's memory latency relative to local access, which is 10 (ACPI 6.5, 5.2.17); a
 *   memory-bound vCPU's progress goes as 1 / latency, so memory at distance 20 runs at half speed.
 *
 * The work a vCPU does is its demand times its throughput; the model's value for a placement is
 * that work summed over the vCPUs. Locality (local bytes over present bytes) is reported beside
 * it, never maximised on its own: packing busy vCPUs onto too few CPUs raises locality and lowers
 * the work. */

#include "vnuma/model/snapshot.h"

/* min(1, cpus / demand); 1 when there is no demand. */
double perf_cpu_share(double cpus, double demand);

/* Speed of memory spread as frac[] over the host's node positions (fractions summing to 1, or
 * all 0: no memory, speed 1) for a vCPU running on node cpu_node. */
double perf_memory_speed(const struct snap_host *h, unsigned cpu_node, const double *frac);

/* One cell's work: its vCPU demand (in CPUs) running on cpu_node, whose total CPU demand is
 * node_demand, with its memory spread as frac[]. */
double perf_cell_work(const struct snap_host *h, unsigned cpu_node, double node_demand, double cell_demand,
                      const double *frac);
