/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "baseline-util.h"

#include <errno.h>
#include <stdlib.h>

#include "vnuma/policies/policy-rules.h"

int baseline_pin(const struct snapshot *s, unsigned vi, int cell, nodemask_t mask, struct plan *out,
                 const char *why)
{
        const struct snap_vm *vm = &s->vms[vi];
        struct idset vcpus = IDSET_EMPTY, cpus = IDSET_EMPTY;
        bool stray = false;
        struct action *a;
        int r;

        for (unsigned i = 0; i < vm->n_vcpus; i++) {
                const struct snap_vcpu *v = &vm->vcpus[i];
                if (cell >= 0 && v->cell != (unsigned)cell)
                        continue;
                idset_add(&vcpus, (int)v->index);
                if (v->node < 0 || !NODEMASK_TEST(mask, v->node))
                        stray = true;
        }
        if (!stray)
                return 0;
        for (unsigned h = 0; h < s->host.n_nodes; h++)
                if (NODEMASK_TEST(mask, h))
                        idset_or(&cpus, &s->host.node[h].cpus);
        r = plan_add(out, ACTION_PIN_VCPUS, vm->id, vi, cell, &a);
        if (r < 0)
                return r;
        a->vcpus = vcpus;
        a->cpus = cpus;
        a->node_mask = mask;
        a->node = __builtin_ctz(mask);
        a->node_id = s->host.node[a->node].id;
        action_set_reason(a, "%s", why);
        return 0;
}

struct cand {
        unsigned cell;
        const struct snap_chunk *ch;
        int to;
};

static int cand_cmp(const void *x, const void *y)
{
        const struct cand *a = x, *b = y;
        if (a->ch->hotness != b->ch->hotness)
                return a->ch->hotness > b->ch->hotness ? -1 : 1;
        if (a->cell != b->cell)
                return a->cell < b->cell ? -1 : 1;
        return a->ch->offset < b->ch->offset ? -1 : a->ch->offset > b->ch->offset;
}

int baseline_migrate(const struct snapshot *s, unsigned vi, struct policy_state *st, struct vm_state *vs,
                     int (*dest)(const struct snapshot *s, unsigned vi, unsigned cell,
                                 const struct snap_chunk *ch, const void *arg),
                     const void *arg, struct plan *out, const char *why)
{
        const struct snap_vm *vm = &s->vms[vi];
        _cleanup_free_ struct cand *c = NULL;
        size_t n = 0, cap = 0;
        int r;

        for (unsigned g = 0; g < vm->n_cells; g++)
                cap += vm->cells[g].n_chunks;
        c = calloc(cap ? cap : 1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        for (unsigned g = 0; g < vm->n_cells; g++)
                for (unsigned k = 0; k < vm->cells[g].n_chunks; k++) {
                        const struct snap_chunk *ch = &vm->cells[g].chunks[k];
                        int to;
                        if (ch->node < 0)
                                continue;
                        to = dest(s, vi, g, ch, arg);
                        if (to >= 0 && to != ch->node)
                                c[n++] = (struct cand){.cell = g, .ch = ch, .to = to};
                }
        qsort(c, n, sizeof(*c), cand_cmp);
        for (size_t i = 0; i < n; i++) {
                struct action *a;
                if (rule_budget_available(st, vs) < c[i].ch->bytes)
                        break;
                if (st->ledger.phys_free[c[i].to] - (int64_t)c[i].ch->bytes <
                    (int64_t)st->params.mem_reserve_bytes)
                        continue;
                r = plan_add(out, ACTION_MIGRATE, vm->id, vi, (int)c[i].cell, &a);
                if (r < 0)
                        return r;
                a->from_node = c[i].ch->node;
                a->node = c[i].to;
                a->node_id = s->host.node[c[i].to].id;
                a->node_mask = NODEMASK_BIT(c[i].to);
                a->offset = c[i].ch->offset;
                a->bytes = c[i].ch->bytes;
                a->priority = c[i].ch->hotness;
                action_set_reason(a, "%s", why);
                rule_budget_charge(st, vs, c[i].ch->bytes);
                st->ledger.phys_free[c[i].to] -= (int64_t)c[i].ch->bytes;
        }
        return 0;
}
