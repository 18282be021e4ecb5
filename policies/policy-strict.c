/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Policy "strict": all of a cell's memory on the named nodes (per cell if named, else the VM's
 * nodes); everything outside is moved in, within the budgets, without the two-stage filter
 * because the operator's binding is not a guess. */
#include "vnuma/policies/policy-rules.h"

#include "policy-internal.h"

static nodemask_t cell_target_mask(const struct snap_host *h, const struct snap_vm *vm, unsigned cell)
{
        const struct idset *ids = vm_policy_cell_nodes(&vm->policy, cell);
        return snap_host_mask_of_ids(h, ids ? ids : &vm->policy.nodes);
}

static int strict_dest(const struct snapshot *s, const struct snap_vm *vm, const struct vm_state *vs,
                       unsigned cell, const struct snap_chunk *ch, const struct policy_ledger *l,
                       uint64_t reserve)
{
        const struct cell_state *cs = &vs->cells[cell];

        if (cs->home_mem == 0 || NODEMASK_TEST(cs->home_mem, ch->node))
                return -1;
        return mask_roomiest(s, l, cs->home_mem, ch->node);
}

static nodemask_t strict_mask(const struct snapshot *s, unsigned vi, unsigned cell,
                              const struct vm_state *vs)
{
        return cell_target_mask(&s->host, &s->vms[vi], cell);
}

static int strict_plan_vm(const struct snapshot *s, unsigned vi, struct policy_state *st,
                          struct vm_state *vs, struct plan *out)
{
        static const struct migrate_pass pass = {
                .dest = strict_dest,
                .two_stage = false,
                .bound = true,
                .home_is_set = true,
                .dest_by_node = true,
                .why = "strict",
        };
        return fixed_plan_vm(s, vi, st, vs, out, REGION_POLICY_BIND, strict_mask, &pass);
}

const struct policy_ops policy_strict_ops = {
        .name = "strict",
        .plan_vm = strict_plan_vm,
};
