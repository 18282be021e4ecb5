/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fault statistics: decay, preferred node, weights (task_numa_fault / task_numa_placement). */
#include "vnuma/policies/policy-rules.h"

void rule_decay(uint64_t *stat, const uint64_t *fresh, unsigned n_nodes)
{
        for (unsigned h = 0; h < n_nodes; h++)
                stat[h] = stat[h] / 2 + fresh[h];
}

int rule_argmax(const uint64_t *stat, unsigned n_nodes, nodemask_t allowed)
{
        int best = -1;

        for (unsigned h = 0; h < n_nodes; h++) {
                if (!NODEMASK_TEST(allowed, h) || stat[h] == 0)
                        continue;
                if (best < 0 || stat[h] > stat[best])
                        best = (int)h;
        }
        return best;
}

int rule_cpu_node_for(const struct snap_host *h, int pos)
{
        return snap_host_nearest_cpu_node(h, pos);
}

long rule_weight(const uint64_t *stat, unsigned n_nodes, int node)
{
        uint64_t total = 0;

        for (unsigned h = 0; h < n_nodes; h++)
                total += stat[h];
        if (total == 0 || node < 0 || (unsigned)node >= n_nodes)
                return 0;
        /* 1000 * x / total without overflow for any realistic x. */
        return (long)((double)stat[node] * 1000.0 / (double)total);
}
