/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The memory half shared by the policies: scan the window of each cell that is due, find the
 * misplaced chunks, and move the hottest first within the VM's and the host's budget
 * (mpol_misplaced / migrate_misplaced_page, batched like move_pages). */
#include <errno.h>
#include <stdlib.h>

#include "vnuma/policy-rules.h"

#include "policy-internal.h"

struct migrate_candidate {
        unsigned cell;
        int from;
        int to;
        uint32_t hotness;
        uint64_t offset;
        uint64_t bytes;
};

static int candidate_cmp(const void *a, const void *b)
{
        const struct migrate_candidate *x = a, *y = b;

        if (x->hotness != y->hotness)
                return x->hotness > y->hotness ? -1 : 1;
        if (x->cell != y->cell)
                return x->cell < y->cell ? -1 : 1;
        if (x->offset != y->offset)
                return x->offset < y->offset ? -1 : 1;
        return 0;
}

static int scratch_reserve(struct policy_state *st, size_t n)
{
        size_t want = n * sizeof(struct migrate_candidate);
        void *m;

        if (want <= st->scratch_size)
                return 0;
        m = realloc(st->scratch, want);
        if (!m)
                return -ENOMEM;
        st->scratch = m;
        st->scratch_size = want;
        return 0;
}

static uint64_t chunk_index(const struct snap_cell *cell, const struct snap_chunk *ch)
{
        uint64_t unit = cell->chunk_bytes ?: ch->bytes;
        return unit ? ch->offset / unit : 0;
}

int vm_migrate_pass(const struct snapshot *s, unsigned vm_index, struct policy_state *st,
                    struct vm_state *vs, const struct migrate_pass *pass, struct plan *out)
{
        const struct snap_vm *vm = &s->vms[vm_index];
        const struct policy_params *p = &st->params;
        struct policy_ledger *l = &st->ledger;
        struct migrate_candidate *cand;
        size_t n_cand = 0, n_window = 0;
        int r;

        for (unsigned c = 0; c < vm->n_cells && c < vs->n_cells; c++)
                if (s->period >= vs->cells[c].next_scan)
                        n_window += vm->cells[c].n_chunks;
        if (n_window == 0)
                return 0;
        r = scratch_reserve(st, n_window);
        if (r < 0)
                return r;
        cand = st->scratch;

        for (unsigned c = 0; c < vm->n_cells && c < vs->n_cells; c++) {
                const struct snap_cell *cell = &vm->cells[c];
                struct cell_state *cs = &vs->cells[c];
                uint64_t placed = 0, seen = 0;
                bool pending = false;
                unsigned local_pct;

                if (s->period < cs->next_scan || cs->home_mem == 0)
                        continue;
                if (pass->two_stage && cell->chunk_bytes > 0) {
                        r = rule_two_stage_reserve(cs, cell->size_bytes / cell->chunk_bytes + 1);
                        if (r < 0)
                                return r;
                }
                for (unsigned k = 0; k < cell->n_chunks; k++) {
                        const struct snap_chunk *ch = &cell->chunks[k];
                        uint64_t idx = chunk_index(cell, ch);
                        bool eligible;
                        int to;

                        if (ch->node < 0 || (unsigned)ch->node >= s->host.n_nodes)
                                continue;
                        seen += ch->bytes;
                        to = pass->dest(s, vm, vs, c, ch, l, p->mem_reserve_bytes);
                        if (to < 0 || to == ch->node) {
                                placed += ch->bytes;
                                if (pass->two_stage)
                                        (void)rule_two_stage(cs, idx, false);
                                continue;
                        }
                        pending = true;
                        eligible = pass->two_stage ? rule_two_stage(cs, idx, true) : true;
                        if (eligible)
                                cand[n_cand++] = (struct migrate_candidate){
                                        .cell = c,
                                        .from = ch->node,
                                        .to = to,
                                        .hotness = ch->hotness,
                                        .offset = ch->offset,
                                        .bytes = ch->bytes,
                                };
                }
                local_pct = seen ? (unsigned)(placed * 100 / seen) : 100;
                cs->scan_period = rule_scan_period(p, cs->scan_period, local_pct);
                /* While misplaced memory is pending, keep scanning every period: bulk moves after
                 * a home change are eager; the adaptive period governs the steady state. */
                cs->next_scan = s->period + (pending ? 1 : cs->scan_period);
        }

        qsort(cand, n_cand, sizeof(*cand), candidate_cmp);
        for (size_t i = 0; i < n_cand; i++) {
                const struct migrate_candidate *m = &cand[i];
                struct action *a;

                if (rule_budget_available(st, vs) < m->bytes)
                        break; /* hottest first: nothing colder jumps the queue */
                if (l->phys_free[m->to] - (int64_t)m->bytes < (int64_t)p->mem_reserve_bytes)
                        continue; /* that node is full this period; others may still take theirs */
                r = plan_add(out, ACTION_MIGRATE, vm->id, vm_index, (int)m->cell, &a);
                if (r < 0)
                        return r;
                a->from_node = m->from;
                a->node = m->to;
                a->node_id = s->host.node[m->to].id;
                a->node_mask = NODEMASK_BIT(m->to);
                a->offset = m->offset;
                a->bytes = m->bytes;
                a->priority = m->hotness;
                action_set_reason(a, "%s: cell %u chunk misplaced on node %d, home node %d", pass->why,
                                  m->cell, s->host.node[m->from].id, a->node_id);
                rule_budget_charge(st, vs, m->bytes);
                l->phys_free[m->to] -= (int64_t)m->bytes;
        }
        return 0;
}
