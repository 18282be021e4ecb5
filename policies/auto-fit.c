/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Auto: what group, cell and swap placement share: the homes of a node, what of a cell lies
 * outside a home, nodes ranked by score, and whether a cell fits on a node. */
#include "vnuma/model/perf-model.h"
#include "vnuma/policies/policy-rules.h"

#include "auto-fit.h"

bool auto_homes_for(const struct snap_host *h, int node, nodemask_t *ret_mem, nodemask_t *ret_cpu)
{
        int cpu = rule_cpu_node_for(h, node);

        if (cpu < 0)
                return false;
        *ret_mem = NODEMASK_BIT(node) | NODEMASK_BIT(cpu);
        *ret_cpu = NODEMASK_BIT(cpu);
        return true;
}

int auto_home_node(const struct snap_host *h, nodemask_t home_mem)
{
        unsigned n = nodemask_count(home_mem);

        if (n == 1)
                return nodemask_first(home_mem);
        if (n == 2)
                for (unsigned i = 0; i < h->n_nodes; i++)
                        if (NODEMASK_TEST(home_mem, i) && h->node[i].n_cpus == 0)
                                return (int)i;
        return -1;
}

unsigned auto_siblings_on(const struct snap_host *h, const struct vm_state *vs, unsigned cell, int node)
{
        int cpu = node >= 0 ? rule_cpu_node_for(h, node) : -1;
        unsigned n = 0;

        if (cpu < 0)
                return 0;
        for (unsigned c = 0; c < vs->n_cells; c++)
                if (c != cell && NODEMASK_TEST(vs->cells[c].home_cpu, cpu))
                        n++;
        return n;
}

uint64_t auto_bytes_off(const struct snap_cell *c, const struct cell_state *cs, nodemask_t mem,
                        unsigned n_nodes)
{
        return cs->present - MIN(cs->present, snap_cell_bytes_on(c, n_nodes, mem));
}

unsigned auto_nodes_by_score(const struct snapshot *s, const struct policy_state *st, const uint64_t *score,
                             nodemask_t allowed, int *order)
{
        unsigned n = 0;

        for (unsigned i = 0; i < s->host.n_nodes; i++)
                if (NODEMASK_TEST(allowed, i))
                        order[n++] = (int)i;
        for (unsigned i = 1; i < n; i++)
                for (unsigned j = i; j > 0; j--) {
                        int a = order[j - 1], b = order[j];
                        bool swap = score[b] > score[a] || (score[b] == score[a] &&
                                                            st->ledger.mem_free[b] > st->ledger.mem_free[a]);
                        if (!swap)
                                break;
                        order[j - 1] = b;
                        order[j] = a;
                }
        return n;
}

bool auto_cell_fits(const struct snapshot *s, const struct snap_vm *vm, unsigned cell,
                    const struct policy_state *st, const struct cell_state *cs, int node)
{
        nodemask_t mem, cpu;
        int cpu_node;

        if (!auto_homes_for(&s->host, node, &mem, &cpu))
                return false;
        cpu_node = nodemask_first(cpu);
        return rule_cpu_fits(&s->host, &st->ledger, st->params.imbalance_pct, cpu_node,
                             cell_demand_off(s, vm, cell, cs, cpu_node)) &&
               rule_mem_fits(&st->ledger, st->params.mem_reserve_bytes, node,
                             auto_bytes_off(&vm->cells[cell], cs, mem, s->host.n_nodes));
}

/* The host's CPUs and all of its demand, fluid VMs included. */
static void host_totals(const struct snapshot *s, const struct policy_state *st, double *ret_cpus,
                        double *ret_demand, double *ret_other)
{
        double cpus = 0, demand = st->ledger.fluid_demand, other = 0;

        for (unsigned n = 0; n < s->host.n_nodes; n++) {
                cpus += s->host.node[n].n_cpus;
                demand += st->ledger.cpu_load[n];
                other += st->ledger.other_load[n];
        }
        *ret_cpus = cpus;
        *ret_demand = demand;
        *ret_other = other;
}

double auto_overflow_floor(const struct snapshot *s, const struct policy_state *st)
{
        double cpus, demand, other;

        host_totals(s, st, &cpus, &demand, &other);
        return MAX(demand - cpus, 0.0);
}

double auto_work_lost_after(const struct snapshot *s, const struct policy_state *st, const double *from,
                            int to, double total)
{
        const struct policy_ledger *l = &st->ledger;
        double cpus, demand, other, lost;

        host_totals(s, st, &cpus, &demand, &other);
        lost = st->ledger.fluid_demand * (1 - perf_cpu_share(cpus, demand));
        for (unsigned n = 0; n < s->host.n_nodes; n++) {
                double vcpus = l->cpu_load[n] - l->other_load[n] - from[n] + ((int)n == to ? total : 0);

                vcpus = MAX(vcpus, 0.0);
                lost += vcpus * (1 - perf_cpu_share(s->host.node[n].n_cpus, vcpus + l->other_load[n]));
        }
        return lost;
}

bool auto_move_worth_it(double gain, double demand)
{
        return gain >= MAX(demand / 2, RULE_CPU_SLACK) - 1e-9; /* exactly half: the sums round */
}

double auto_work_lost_even(const struct snapshot *s, const struct policy_state *st)
{
        double cpus, demand, other;

        host_totals(s, st, &cpus, &demand, &other);
        return MAX(demand - other, 0.0) * (1 - perf_cpu_share(cpus, demand));
}
