/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Capacity bookkeeping for one planning pass (what each cell has been promised where), home
 * changes, and the ping-pong guard. */
#include <string.h>

#include "vnuma/policies/policy-rules.h"

#include "policy-internal.h"

double cell_run(const struct snapshot *s, const struct snap_cell *c)
{
        double run = 0;

        for (unsigned n = 0; n < s->host.n_nodes && s->period_ns > 0; n++)
                run += (double)c->cpu_ns[n] / (double)s->period_ns;
        return run;
}

int vcpu_effective_node(const struct snap_vcpu *v, const struct cell_state *cs)
{
        if (cs->home_cpu == 0 || (v->node >= 0 && NODEMASK_TEST(cs->home_cpu, v->node)))
                return v->node;
        return nodemask_first(cs->home_cpu);
}

double cell_demand_off(const struct snapshot *s, const struct snap_vm *vm, unsigned cell,
                       const struct cell_state *cs, int node)
{
        if (node < 0 || node >= SNAP_NODES_MAX)
                return cs->demand;
        return cs->demand - cs->demand_on[node];
}

void ledger_commit_cell(struct policy_state *st, const struct snapshot *s, const struct snap_vm *vm,
                        struct vm_state *vs, unsigned cell, int sign)
{
        struct policy_ledger *l = &st->ledger;
        const struct cell_state *cs = &vs->cells[cell];
        const struct snap_cell *c = &vm->cells[cell];

        /* vCPUs outside the home count at the home (where they are about to be pinned). */
        if (cs->home_cpu) {
                int first = nodemask_first(cs->home_cpu);

                for (unsigned h = 0; h < s->host.n_nodes; h++)
                        if (!NODEMASK_TEST(cs->home_cpu, h) && cs->demand_on[h] > 0) {
                                l->cpu_load[h] -= sign * cs->demand_on[h];
                                l->cpu_load[first] += sign * cs->demand_on[h];
                        }
                l->cpu_load[first] += sign * cs->demand_unknown;
        }

        /* Memory is planned against where it will be once every home is reached: what lies
         * outside the home will leave its node, and arrives at the home's node with CPUs (a
         * spread home takes it wherever there is room, so it is not booked). */
        if (cs->home_mem) {
                nodemask_t into = cs->home_mem & cs->home_cpu;
                uint64_t pending = 0;

                if (!into && nodemask_count(cs->home_mem) == 1)
                        into = cs->home_mem;
                for (unsigned h = 0; h < s->host.n_nodes; h++)
                        if (!NODEMASK_TEST(cs->home_mem, h) && c->resident_bytes[h] > 0) {
                                l->mem_free[h] += sign * (int64_t)c->resident_bytes[h];
                                pending += c->resident_bytes[h];
                        }
                if (nodemask_count(into) == 1)
                        l->mem_free[nodemask_first(into)] -= sign * (int64_t)pending;
        }
}

int cell_set_home(const struct snapshot *s, unsigned vm_index, struct policy_state *st, struct vm_state *vs,
                  unsigned cell, nodemask_t home_mem, nodemask_t home_cpu, struct plan *out, const char *why)
{
        const struct snap_vm *vm = &s->vms[vm_index];
        struct cell_state *cs = &vs->cells[cell];
        struct action *a;
        int r, node;

        cs->provisional = false;
        if (cs->home_mem == home_mem && cs->home_cpu == home_cpu)
                return 0;
        if (cs->home_mem != home_mem) {
                /* Old misplacement evidence was relative to the old home, and moving the same
                 * chunks again is now the point, not a strike. */
                rule_two_stage_clear(cs);
                memset(cs->moved, 0, sizeof(cs->moved));
                cs->scan_period = st->params.scan_period_min ? st->params.scan_period_min : 1;
                cs->next_scan = s->period;
        }
        cs->home_mem = home_mem;
        cs->home_cpu = home_cpu;
        cs->candidate = -1;
        cs->candidate_periods = 0;

        r = plan_add(out, ACTION_SET_HOME, vm->id, vm_index, (int)cell, &a);
        if (r < 0)
                return r;
        node = nodemask_first(home_mem);
        a->node = node;
        a->node_id = node >= 0 ? s->host.node[node].id : -1;
        a->node_mask = home_mem;
        action_set_reason(a, "%s", why);
        return 1;
}

void cell_make_provisional(const struct policy_params *p, struct cell_state *cs, uint64_t period)
{
        cs->provisional = true;
        cs->confirm_at = period + p->hysteresis_periods;
}

bool cell_may_return(const struct policy_params *p, const struct cell_state *cs, int node, uint64_t period)
{
        if (node < 0 || node >= SNAP_NODES_MAX || cs->left_at[node] == 0)
                return true;
        /* left_at is 1 + the period it left: it may come back once settle_periods have passed. */
        return period >= cs->left_at[node] + p->settle_periods;
}

bool cell_may_return_mask(const struct policy_params *p, const struct cell_state *cs, nodemask_t mask,
                          uint64_t period)
{
        for (int h = nodemask_first(mask); h >= 0; h = nodemask_first(mask &= mask - 1))
                if (!cell_may_return(p, cs, h, period))
                        return false;
        return true;
}

static void vm_fluid(struct policy_state *st, const struct snapshot *s, unsigned vi, int sign)
{
        const struct snap_vm *vm = &s->vms[vi];
        const struct vm_state *vs = &st->vms[vi];

        st->ledger.fluid_demand += sign * vs->demand;
        for (unsigned c = 0; c < vm->n_cells && c < vs->n_cells; c++)
                for (unsigned h = 0; h < s->host.n_nodes; h++) {
                        st->ledger.mem_free[h] += sign * (int64_t)vm->cells[c].resident_bytes[h];
                        st->ledger.cpu_load[h] -= sign * vs->cells[c].demand_on[h];
                }
}

void ledger_make_fluid(struct policy_state *st, const struct snapshot *s)
{
        for (unsigned i = 0; i < s->n_vms && i < st->n_vms; i++) {
                struct vm_state *vs = &st->vms[i];
                bool homed = false;

                vs->fluid = false;
                /* Whole VMs only: they are the items the packing moves as a unit. Cells placed one
                 * by one keep their place in the ledger until placed. */
                if (s->vms[i].policy.mode != VM_POLICY_AUTO || vs->split ||
                    s->vms[i].policy.n_cell_nodes > 0 ||
                    !(s->vms[i].n_cells == 1 || st->params.consolidate_vm))
                        continue;
                for (unsigned c = 0; c < vs->n_cells && !homed; c++)
                        homed = vs->cells[c].home_mem != 0;
                if (homed)
                        continue;
                vs->fluid = true;
                vm_fluid(st, s, i, +1);
        }
}

void ledger_unfluid_vm(struct policy_state *st, const struct snapshot *s, unsigned vm_index)
{
        if (vm_index >= st->n_vms || !st->vms[vm_index].fluid)
                return;
        st->vms[vm_index].fluid = false;
        vm_fluid(st, s, vm_index, -1);
}
