/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Policy "preferred": one home node per cell (the first named node, or the busiest when none is
 * named); memory is moved there while it has room, and may spill elsewhere when it has not. */
#include "vnuma/policies/policy-rules.h"

#include "policy-internal.h"

static nodemask_t preferred_mask(const struct snapshot *s, unsigned vi, unsigned cell,
                                 const struct vm_state *vs)
{
        const struct snap_vm *vm = &s->vms[vi];
        const struct idset *ids = vm_policy_cell_nodes(&vm->policy, cell);
        nodemask_t named;
        int pref;

        if (!ids && !idset_is_empty(&vm->policy.nodes))
                ids = &vm->policy.nodes;
        if (ids) {
                named = snap_host_mask_of_ids(&s->host, ids);
                return named ? NODEMASK_BIT(nodemask_first(named)) : 0;
        }
        /* Nothing named: keep the home once chosen, else where most accesses go. */
        if (vs->cells[cell].home_mem)
                return vs->cells[cell].home_mem;
        pref = vs->cells[cell].pref;
        return pref >= 0 ? NODEMASK_BIT(pref) : 0;
}

static int preferred_dest(const struct snapshot *s, const struct snap_vm *vm, const struct vm_state *vs,
                          unsigned cell, const struct snap_chunk *ch, const struct policy_ledger *l,
                          uint64_t reserve)
{
        const struct cell_state *cs = &vs->cells[cell];
        int home = nodemask_first(cs->home_mem);

        if (home < 0 || ch->node == home)
                return -1;
        /* Spilled memory stays where it is while the home has no room. */
        if (l->phys_free[home] - (int64_t)ch->bytes < (int64_t)reserve)
                return -1;
        return home;
}

static int preferred_plan_vm(const struct snapshot *s, unsigned vi, struct policy_state *st,
                             struct vm_state *vs, struct plan *out)
{
        static const struct migrate_pass pass = {
                .dest = preferred_dest,
                .two_stage = false,
                .bound = true,
                .home_is_set = true,
                .why = "preferred",
        };
        return fixed_plan_vm(s, vi, st, vs, out, REGION_POLICY_PREFERRED, preferred_mask, &pass);
}

const struct policy_ops policy_preferred_ops = {
        .name = "preferred",
        .plan_vm = preferred_plan_vm,
};
