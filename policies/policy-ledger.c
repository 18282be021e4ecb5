/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Capacity bookkeeping for one planning pass: what each cell has been promised where. */
#include "vnuma/policy-rules.h"

#include "policy-internal.h"

double vcpu_demand(const struct snapshot *s, const struct snap_vcpu *v)
{
        if (s->period_ns == 0)
                return 0;
        return (double)v->runtime_ns / (double)s->period_ns;
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
        double d = 0;

        for (unsigned i = 0; i < vm->n_vcpus; i++) {
                const struct snap_vcpu *v = &vm->vcpus[i];
                if (v->cell == cell && v->node != node)
                        d += vcpu_demand(s, v);
        }
        return d;
}

void ledger_commit_cell(struct policy_state *st, const struct snapshot *s, const struct snap_vm *vm,
                        struct vm_state *vs, unsigned cell, int sign)
{
        struct policy_ledger *l = &st->ledger;
        const struct cell_state *cs = &vs->cells[cell];
        const struct snap_cell *c = &vm->cells[cell];

        for (unsigned i = 0; i < vm->n_vcpus; i++) {
                const struct snap_vcpu *v = &vm->vcpus[i];
                int eff;
                double d;

                if (v->cell != cell)
                        continue;
                eff = vcpu_effective_node(v, cs);
                if (eff == v->node || eff < 0)
                        continue;
                d = vcpu_demand(s, v);
                if (v->node >= 0)
                        l->cpu_load[v->node] -= sign * d;
                l->cpu_load[eff] += sign * d;
        }

        if (nodemask_count(cs->home_mem) == 1) {
                int h = nodemask_first(cs->home_mem);
                uint64_t present = snap_cell_present_bytes(c);
                uint64_t pending = present - MIN(present, c->resident_bytes[h]);
                l->mem_free[h] -= sign * (int64_t)pending;
        }
}

int cell_set_home(const struct snapshot *s, unsigned vm_index, struct policy_state *st, struct vm_state *vs,
                  unsigned cell, nodemask_t home_mem, nodemask_t home_cpu, struct plan *out, const char *why)
{
        const struct snap_vm *vm = &s->vms[vm_index];
        struct cell_state *cs = &vs->cells[cell];
        struct action *a;
        int r, node;

        if (cs->home_mem == home_mem && cs->home_cpu == home_cpu)
                return 0;
        if (cs->home_mem != home_mem) {
                /* Old misplacement evidence was relative to the old home. */
                rule_two_stage_clear(cs);
                cs->scan_period = st->params.scan_period_min ? st->params.scan_period_min : 1;
                cs->next_scan = s->period;
        }
        cs->home_mem = home_mem;
        cs->home_cpu = home_cpu;

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
