/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The performance model (see perf-model.h): CPU share times memory speed. Pure arithmetic. */
#include "vnuma/model/perf-model.h"

#define SLIT_LOCAL 10.0

double perf_cpu_share(double cpus, double demand)
{
        if (demand <= cpus || demand <= 0)
                return 1.0;
        return cpus / demand;
}

double perf_memory_speed(const struct snap_host *h, unsigned cpu_node, const double *frac)
{
        double speed = 0, total = 0;

        if (cpu_node >= h->n_nodes)
                return 0;
        for (unsigned n = 0; n < h->n_nodes; n++) {
                double d = h->distance[cpu_node][n] ? h->distance[cpu_node][n] : SLIT_LOCAL;

                if (frac[n] <= 0)
                        continue;
                total += frac[n];
                speed += frac[n] * SLIT_LOCAL / (d < SLIT_LOCAL ? SLIT_LOCAL : d);
        }
        return total > 0 ? speed / total : 1.0;
}

double perf_cell_work(const struct snap_host *h, unsigned cpu_node, double node_demand, double cell_demand,
                      const double *frac)
{
        if (cpu_node >= h->n_nodes || cell_demand <= 0)
                return 0;
        return cell_demand * perf_cpu_share((double)h->node[cpu_node].n_cpus, node_demand) *
               perf_memory_speed(h, cpu_node, frac);
}
