/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Policy "interleave": chunk i of a cell belongs on the (i mod n)-th node of the set. */
#include "vnuma/policies/policy-rules.h"

#include "policy-internal.h"

static nodemask_t interleave_mask(const struct snapshot *s, unsigned vi, unsigned cell,
                                  const struct vm_state *vs)
{
        const struct snap_vm *vm = &s->vms[vi];
        const struct idset *ids = vm_policy_cell_nodes(&vm->policy, cell);
        return snap_host_mask_of_ids(&s->host, ids ? ids : &vm->policy.nodes);
}

int interleave_node_for(nodemask_t mask, uint64_t chunk_index)
{
        unsigned n = nodemask_count(mask), k;

        if (n == 0)
                return -1;
        k = (unsigned)(chunk_index % n);
        for (unsigned h = 0; h < 32; h++)
                if (NODEMASK_TEST(mask, h) && k-- == 0)
                        return (int)h;
        return -1;
}

static int interleave_dest(const struct snapshot *s, const struct snap_vm *vm, const struct vm_state *vs,
                           unsigned cell, const struct snap_chunk *ch, const struct policy_ledger *l,
                           uint64_t reserve)
{
        const struct snap_cell *c = &vm->cells[cell];
        uint64_t unit = c->chunk_bytes ?: ch->bytes;
        int want = interleave_node_for(vs->cells[cell].home_mem, unit ? ch->offset / unit : 0);

        return want == ch->node ? -1 : want;
}

static int interleave_plan_vm(const struct snapshot *s, unsigned vi, struct policy_state *st,
                              struct vm_state *vs, struct plan *out)
{
        static const struct migrate_pass pass = {
                .dest = interleave_dest,
                .two_stage = false,
                .bound = true,
                .why = "interleave",
        };
        return fixed_plan_vm(s, vi, st, vs, out, REGION_POLICY_INTERLEAVE, interleave_mask, &pass);
}

const struct policy_ops policy_interleave_ops = {
        .name = "interleave",
        .plan_vm = interleave_plan_vm,
};
