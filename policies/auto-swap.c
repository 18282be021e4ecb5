/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Auto: swapping two cells when the preferred node is full (task_numa_compare). Like the kernel,
 * which only looks at the tasks running on the preferred node, the search only visits the cells
 * homed on that node (an index built once per period), and at most SWAP_CANDIDATES_MAX of them. */
#include <stdio.h>

#include "vnuma/policies/policy-rules.h"

#include "auto-fit.h"
#include "auto-internal.h"

#define SWAP_CANDIDATES_MAX 128

struct swap_pick {
        size_t vm;
        unsigned cell;
        long imp;
};

static bool partner_ok(const struct snapshot *s, const struct policy_state *st, unsigned vi,
                       const struct cell_ref *ref, int dst)
{
        const struct snap_vm *vm2;
        const struct vm_state *vs2;
        const struct cell_state *cs2;

        if (ref->vm == vi || ref->vm >= s->n_vms || ref->vm >= st->n_vms)
                return false;
        vm2 = &s->vms[ref->vm];
        vs2 = &st->vms[ref->vm];
        /* Whole-VM groups are not split by a swap, and only auto cells take part. */
        if (vm2->policy.mode != VM_POLICY_AUTO || vs2->group_home >= 0 || ref->cell >= vs2->n_cells ||
            ref->cell >= vm2->n_cells)
                return false;
        cs2 = &vs2->cells[ref->cell];
        /* Still there (the index is from the start of the period), and not operator-pinned. */
        return cs2->home_cpu == NODEMASK_BIT(dst) && cs2->home_mem == NODEMASK_BIT(dst) &&
               !vm_policy_cell_nodes(&vm2->policy, ref->cell);
}

static bool find_partner(const struct snapshot *s, unsigned vi, unsigned cell, const struct policy_state *st,
                         int src, int dst, struct swap_pick *ret)
{
        const struct policy_work *w = st->work;
        const struct cell_state *cs = &st->vms[vi].cells[cell];
        const struct policy_params *p = &st->params;
        unsigned seen = 0;
        long best_imp = 0;
        bool found = false;

        if (!cell_may_return(p, cs, dst, s->period))
                return false;
        for (size_t k = w->by_node_start[dst]; k < w->by_node_start[dst + 1] && seen < SWAP_CANDIDATES_MAX;
             k++) {
                const struct cell_ref *ref = &w->by_node[k];
                const struct cell_state *cs2;
                long imp;

                if (!partner_ok(s, st, vi, ref, dst))
                        continue;
                seen++;
                cs2 = &st->vms[ref->vm].cells[ref->cell];
                imp = rule_swap_improvement(cs->mem, cs2->mem, s->host.n_nodes, src, dst, cs2->pref);
                if (!rule_swap_accept(imp, best_imp))
                        continue;
                /* The partner would move back to src: only if nothing of it left src lately, and
                 * without leaving more of its siblings than it joins. */
                if (!cell_may_return(p, cs2, src, s->period) ||
                    auto_siblings_on(&s->host, &st->vms[ref->vm], ref->cell, src) <
                            auto_siblings_on(&s->host, &st->vms[ref->vm], ref->cell, dst))
                        continue;
                if (!rule_cpu_fits(&s->host, &st->ledger, p->imbalance_pct, dst, cs->demand - cs2->demand) ||
                    !rule_cpu_fits(&s->host, &st->ledger, p->imbalance_pct, src, cs2->demand - cs->demand))
                        continue;
                /* Each side's commitment is released by the swap. */
                if (st->ledger.mem_free[dst] + (int64_t)cs2->present - (int64_t)cs->present <
                            (int64_t)p->mem_reserve_bytes ||
                    st->ledger.mem_free[src] + (int64_t)cs->present - (int64_t)cs2->present <
                            (int64_t)p->mem_reserve_bytes)
                        continue;
                best_imp = imp;
                *ret = (struct swap_pick){.vm = ref->vm, .cell = ref->cell, .imp = imp};
                found = true;
        }
        return found;
}

/* The partner may have been planned earlier this period: its pins toward its old home must not be
 * applied, or its vCPUs would go there and straight back. */
static void drop_cell_pins(struct plan *out, uint64_t vm_id, unsigned cell)
{
        size_t k = 0;

        for (size_t i = 0; i < out->n_actions; i++) {
                const struct action *a = &out->actions[i];
                if (a->type == ACTION_PIN_VCPUS && a->vm_id == vm_id && a->cell == (int)cell)
                        continue;
                if (k != i)
                        out->actions[k] = *a;
                k++;
        }
        out->n_actions = k;
}

int auto_try_swap(const struct snapshot *s, unsigned vi, unsigned cell, struct policy_state *st, int src,
                  int dst, struct plan *out)
{
        const struct snap_vm *vm = &s->vms[vi];
        struct vm_state *vs = &st->vms[vi];
        struct swap_pick pick;
        struct vm_state *vs2;
        struct cell_state *cs2;
        char why[ACTION_REASON_MAX];
        int r;

        if (!st->work || !find_partner(s, vi, cell, st, src, dst, &pick))
                return 0;
        vs2 = &st->vms[pick.vm];
        cs2 = &vs2->cells[pick.cell];

        ledger_commit_cell(st, s, &s->vms[pick.vm], vs2, pick.cell, -1);
        (void)snprintf(why, sizeof(why), "swap with vm %llu cell %u (improvement %ld)",
                       (unsigned long long)s->vms[pick.vm].id, pick.cell, pick.imp);
        r = cell_set_home(s, vi, st, vs, cell, NODEMASK_BIT(dst), NODEMASK_BIT(dst), out, why);
        if (r >= 0) {
                (void)snprintf(why, sizeof(why), "swap with vm %llu cell %u (improvement %ld)",
                               (unsigned long long)vm->id, cell, pick.imp);
                drop_cell_pins(out, s->vms[pick.vm].id, pick.cell);
                r = cell_set_home(s, (unsigned)pick.vm, st, vs2, pick.cell, NODEMASK_BIT(src),
                                  NODEMASK_BIT(src), out, why);
                /* The partner goes where it is wanted less than its own preference: provisional,
                 * so it may still find better before anything of it moves. */
                if (r >= 0 && cs2->pref != src)
                        cell_make_provisional(&st->params, cs2, s->period);
        }
        ledger_commit_cell(st, s, &s->vms[pick.vm], vs2, pick.cell, +1);
        if (r >= 0)
                r = cell_emit_pins(s, (unsigned)pick.vm, vs2, pick.cell, out);
        vs->cells[cell].retry_pending = false;
        return r < 0 ? r : 1;
}
