/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Baseline "autonuma": the kernel's view of a QEMU process. All vCPU threads form one numa_group;
 * the group's preferred node is where most of the VM's faults go, and the threads move there when
 * it has room for all of them. Otherwise the scheduler keeps them where they are. Pages move to the
 * node their accessors mostly run on, after two consecutive scans agree. Guest cells are invisible. */
#include "vnuma/policies/policy-rules.h"
#include "vnuma/sim/sim.h"

#include "baseline-util.h"

struct autonuma_arg {
        const struct vm_state *vs;
        double share[4][SNAP_NODES_MAX]; /* per cell: accessors' demand per node */
};

static int to_accessors(const struct snapshot *s, unsigned vi, unsigned cell, const struct snap_chunk *ch,
                        const void *argp)
{
        const struct autonuma_arg *arg = argp;
        struct cell_state *cs = &arg->vs->cells[cell];
        int best = -1;
        uint64_t idx = ch->offset / (ch->bytes ? ch->bytes : 1);

        for (unsigned h = 0; h < s->host.n_nodes; h++)
                if (arg->share[cell][h] > 0 && (best < 0 || arg->share[cell][h] > arg->share[cell][best]))
                        best = (int)h;
        /* Two-stage filter: misplaced relative to the accessors at two consecutive scans. */
        if (!rule_two_stage(cs, idx, best >= 0 && best != ch->node))
                return -1;
        return best;
}

static int autonuma_plan_vm(const struct snapshot *s, unsigned vi, struct policy_state *st,
                            struct vm_state *vs, struct plan *out)
{
        const struct snap_vm *vm = &s->vms[vi];
        struct autonuma_arg arg = {.vs = vs};
        uint64_t group[SNAP_NODES_MAX] = {0};
        double demand = 0;
        int pref, r;

        for (unsigned c = 0; c < vm->n_cells; c++) {
                rule_decay(vs->cells[c].mem, vm->cells[c].access, s->host.n_nodes);
                for (unsigned h = 0; h < s->host.n_nodes; h++)
                        group[h] += vs->cells[c].mem[h];
                r = rule_two_stage_reserve(&vs->cells[c], vm->cells[c].n_chunks + 1);
                if (r < 0)
                        return r;
        }
        for (unsigned i = 0; i < vm->n_vcpus; i++)
                demand += (double)vm->vcpus[i].runtime_ns / (double)s->period_ns;
        pref = rule_argmax(group, s->host.n_nodes, snap_host_cpu_nodes(&s->host));
        if (vs->group_home < 0 && pref >= 0 &&
            rule_cpu_fits(&s->host, &st->ledger, st->params.imbalance_pct, pref, demand)) {
                vs->group_home = pref;
                st->ledger.cpu_load[pref] += demand;
        }
        if (vs->group_home >= 0) {
                r = baseline_pin(s, vi, -1, NODEMASK_BIT(vs->group_home), out,
                                 "autonuma: group preferred node");
                if (r < 0)
                        return r;
        }
        /* Accessors of a cell's memory: its own vCPUs (weight own) and the others. With the group
         * on one node all accessors are there. */
        for (unsigned i = 0; i < vm->n_vcpus; i++) {
                const struct snap_vcpu *v = &vm->vcpus[i];
                int node = vs->group_home >= 0 ? vs->group_home : v->node;
                if (node < 0)
                        continue;
                for (unsigned c = 0; c < vm->n_cells && c < 4; c++)
                        arg.share[c][node] += (double)v->runtime_ns * (v->cell == c ? 1.0 : 0.1);
        }
        return baseline_migrate(s, vi, st, vs, to_accessors, &arg, out,
                                "autonuma: page follows its accessors");
}

const struct policy_ops sim_baseline_autonuma = {.name = "autonuma", .plan_vm = autonuma_plan_vm};
