/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Capacity: vCPU demand against CPUs with an imbalance allowance (task_numa_find_cpu), memory
 * against free memory minus a reserve. */
#include "vnuma/policies/policy-rules.h"

bool rule_cpu_fits(const struct snap_host *h, const struct policy_ledger *l, unsigned imbalance_pct,
                   int node, double demand)
{
        double cap;

        if (node < 0 || (unsigned)node >= h->n_nodes || h->node[node].n_cpus == 0)
                return false;
        /* A tenth of a CPU of slack: emulator threads and measurement noise would otherwise keep a
         * lone busy vCPU (demand ~1.0) off an otherwise idle 1-CPU node. */
        cap = (double)h->node[node].n_cpus * imbalance_pct / 100.0 + RULE_CPU_SLACK;
        return l->cpu_load[node] + demand <= cap + 1e-9;
}

bool rule_mem_fits(const struct policy_ledger *l, uint64_t reserve, int node, uint64_t bytes)
{
        if (node < 0 || node >= SNAP_NODES_MAX)
                return false;
        return l->mem_free[node] - (int64_t)bytes >= (int64_t)reserve;
}
