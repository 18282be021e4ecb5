/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Baseline "numad": whole VMs only. Each cycle (period) it binds at most one VM to the node with the
 * most free memory that holds it, with one affinity mask for all its threads; its memory then
 * follows. Like numad, which takes the biggest process first, it binds the biggest unbound VM that
 * fits: policy_plan visits VMs in decreasing vCPU demand, so that is the first one visited that
 * fits. VMs that fit no node are left alone. */
#include "vnuma/sim/sim.h"

#include "baseline-util.h"

static int to_group_home(const struct snapshot *s, unsigned vi, unsigned cell, const struct snap_chunk *ch,
                         const void *arg)
{
        const struct vm_state *vs = arg;
        return vs->group_home;
}

static int numad_plan_vm(const struct snapshot *s, unsigned vi, struct policy_state *st, struct vm_state *vs,
                         struct plan *out)
{
        const struct snap_vm *vm = &s->vms[vi];
        int r;

        if (vs->group_home < 0) {
                /* One VM per cycle: nothing more once some VM was bound this period. */
                double demand = 0;
                uint64_t bytes = snap_vm_size_bytes(vm);
                int best = -1;

                for (size_t j = 0; j < st->n_vms; j++)
                        if (st->vms[j].periods_seen == s->period + 1 && st->vms[j].group_home >= 0)
                                return 0;
                for (unsigned i = 0; i < vm->n_vcpus; i++)
                        demand += (double)vm->vcpus[i].runtime_ns / (double)s->period_ns;
                for (unsigned h = 0; h < s->host.n_nodes; h++) {
                        const struct snap_node *nd = &s->host.node[h];
                        if (nd->n_cpus == 0 || st->ledger.cpu_load[h] + demand > nd->n_cpus)
                                continue;
                        if (st->ledger.mem_free[h] - (int64_t)bytes < (int64_t)st->params.mem_reserve_bytes)
                                continue;
                        if (best < 0 || st->ledger.mem_free[h] > st->ledger.mem_free[best])
                                best = (int)h;
                }
                if (best < 0)
                        return 0;
                vs->group_home = best;
                vs->periods_seen = s->period + 1; /* marks "bound in this cycle" */
                st->ledger.cpu_load[best] += demand;
                st->ledger.mem_free[best] -= (int64_t)bytes;
        }
        r = baseline_pin(s, vi, -1, NODEMASK_BIT(vs->group_home), out, "numad: whole VM to one node");
        if (r < 0)
                return r;
        return baseline_migrate(s, vi, st, vs, to_group_home, vs, out, "numad: memory follows the VM");
}

const struct policy_ops sim_baseline_numad = {.name = "numad", .plan_vm = numad_plan_vm};
