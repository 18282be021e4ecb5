/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Baseline "optimal": moves every cell to the placement that maximises the performance model
 * (struct sim_optimum's assign, handed in through policy_state.ext) at once, under the same budgets
 * as everyone. Simulator VM ids are
 * 1000 + the world index, which is how a snapshot VM finds its row. */
#include "vnuma/sim/sim.h"

#include "baseline-util.h"

static int to_assigned(const struct snapshot *s, unsigned vi, unsigned cell, const struct snap_chunk *ch,
                       const void *arg)
{
        const struct sim_optimum *o = arg;
        uint64_t row = s->vms[vi].id - 1000;
        return row < o->n_vms && cell < 4 ? o->assign[row][cell] : -1;
}

static int optimal_plan_vm(const struct snapshot *s, unsigned vi, struct policy_state *st,
                           struct vm_state *vs, struct plan *out)
{
        const struct sim_optimum *o = st->ext;
        uint64_t row = s->vms[vi].id - 1000;
        int r;

        if (!o || row >= o->n_vms)
                return 0;
        for (unsigned c = 0; c < s->vms[vi].n_cells && c < 4; c++) {
                int h = o->assign[row][c];
                if (h < 0)
                        continue;
                r = baseline_pin(s, vi, (int)c, NODEMASK_BIT(h), out, "optimal: reference assignment");
                if (r < 0)
                        return r;
        }
        return baseline_migrate(s, vi, st, vs, to_assigned, o, out, "optimal: reference assignment");
}

const struct policy_ops sim_baseline_optimal = {.name = "optimal", .plan_vm = optimal_plan_vm};
