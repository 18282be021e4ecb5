/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The memory half shared by the policies: scan the window of each cell that is due, find the
 * misplaced chunks, and offer them to the period's pool; once every VM is planned the pool moves
 * the most valuable chunks first within each VM's and the host's budget (mpol_misplaced /
 * migrate_misplaced_page, batched like move_pages).
 *
 * Cost: a cell whose memory already sits entirely in its home is settled from its per-node totals
 * without walking its chunks; the pool is a heap, so settling costs O(candidates + picked * log). */
#include <errno.h>
#include <stdlib.h>

#include "vnuma/policy-rules.h"

#include "policy-internal.h"

static uint64_t chunk_index(const struct snap_cell *cell, const struct snap_chunk *ch)
{
        uint64_t unit = cell->chunk_bytes ?: ch->bytes;
        return unit ? ch->offset / unit : 0;
}

static int pool_reserve(struct policy_work *w, size_t more)
{
        size_t want = w->pool_n + more;
        struct migrate_candidate *m;

        if (want <= w->pool_allocated)
                return 0;
        want = MAX(want, w->pool_allocated * 2);
        m = realloc(w->pool, want * sizeof(*m));
        if (!m)
                return -ENOMEM;
        w->pool = m;
        w->pool_allocated = want;
        return 0;
}

/* Walks the cell's window: records each chunk in the two-stage filter and offers the eligible
 * misplaced ones. Returns the bytes seen and, through ret_placed, those already in place. */
static int cell_offer(const struct snapshot *s, unsigned vi, struct policy_state *st, struct vm_state *vs,
                      unsigned c, const struct migrate_pass *pass, uint64_t *ret_seen, uint64_t *ret_placed,
                      bool *ret_pending)
{
        const struct snap_vm *vm = &s->vms[vi];
        const struct snap_cell *cell = &vm->cells[c];
        struct cell_state *cs = &vs->cells[c];
        struct policy_work *w = st->work;
        uint64_t placed = 0, seen = 0, hot_sum = 0;
        size_t first = w->pool_n;
        bool pending = false;
        int r;

        r = pool_reserve(w, cell->n_chunks);
        if (r < 0)
                return r;
        for (unsigned k = 0; k < cell->n_chunks; k++) {
                const struct snap_chunk *ch = &cell->chunks[k];
                uint64_t idx = chunk_index(cell, ch);
                bool eligible;
                int to;

                if (ch->node < 0 || (unsigned)ch->node >= s->host.n_nodes)
                        continue;
                seen += ch->bytes;
                hot_sum += ch->hotness;
                to = pass->dest(s, vm, vs, c, ch, &st->ledger, st->params.mem_reserve_bytes);
                if (to < 0 || to == ch->node) {
                        placed += ch->bytes;
                        if (pass->two_stage)
                                (void)rule_two_stage(cs, idx, false);
                        continue;
                }
                pending = true;
                eligible = pass->two_stage ? rule_two_stage(cs, idx, true) : true;
                if (eligible && ch->bytes > 0)
                        w->pool[w->pool_n++] = (struct migrate_candidate){
                                .value = ch->hotness, /* scaled below, once the window's total is known */
                                .bound = pass->bound,
                                .vm = vi,
                                .cell = c,
                                .from = ch->node,
                                .to = to,
                                .hotness = ch->hotness,
                                .offset = ch->offset,
                                .bytes = ch->bytes,
                                .why = pass->why,
                        };
        }
        /* Worth per byte: the chunk's share of the cell's accesses times the cell's vCPU demand. */
        for (size_t i = first; i < w->pool_n; i++) {
                struct migrate_candidate *m = &w->pool[i];
                double share = hot_sum > 0 ? m->value / (double)hot_sum
                                           : (double)m->bytes / (double)(seen ? seen : 1);
                m->value = (cs->demand + 1e-6) * share / (double)m->bytes;
        }
        *ret_seen = seen;
        *ret_placed = placed;
        *ret_pending = pending;
        return 0;
}

int vm_migrate_pass(const struct snapshot *s, unsigned vm_index, struct policy_state *st,
                    struct vm_state *vs, const struct migrate_pass *pass, struct plan *out)
{
        const struct snap_vm *vm = &s->vms[vm_index];
        const struct policy_params *p = &st->params;
        int r;

        vs->misplaced = 0;
        for (unsigned c = 0; c < vm->n_cells && c < vs->n_cells; c++) {
                const struct snap_cell *cell = &vm->cells[c];
                struct cell_state *cs = &vs->cells[c];
                uint64_t placed = 0, seen = 0;
                bool pending = false;
                unsigned local_pct;

                if (s->period < cs->next_scan || cs->home_mem == 0 || cs->provisional)
                        continue;
                if (pass->home_is_set &&
                    snap_cell_bytes_on(cell, s->host.n_nodes, cs->home_mem) >= cs->present) {
                        /* All of it is home: every chunk would be seen in place. */
                        rule_two_stage_clear(cs);
                        seen = placed = cs->present;
                } else {
                        if (pass->two_stage && cell->chunk_bytes > 0) {
                                r = rule_two_stage_reserve(cs, cell->size_bytes / cell->chunk_bytes + 1);
                                if (r < 0)
                                        return r;
                        }
                        r = cell_offer(s, vm_index, st, vs, c, pass, &seen, &placed, &pending);
                        if (r < 0)
                                return r;
                }
                vs->misplaced += seen - placed;
                local_pct = seen ? (unsigned)(placed * 100 / seen) : 100;
                cs->scan_period = rule_scan_period(p, cs->scan_period, local_pct);
                /* While misplaced memory is pending, keep scanning every period: bulk moves after
                 * a home change are eager; the adaptive period governs the steady state. */
                cs->next_scan = s->period + (pending ? 1 : cs->scan_period);
        }
        return 0;
}

/* Pool order: the operator's bindings first (VM by VM in turn), then the most valuable; then the VM
 * visited first, its cell, its offset. */
static bool pool_before(const struct policy_state *st, const struct migrate_candidate *x,
                        const struct migrate_candidate *y)
{
        unsigned rx = st->vms[x->vm].rank, ry = st->vms[y->vm].rank;

        if (x->bound != y->bound)
                return x->bound;
        /* Bindings are not guesses with a value: the VM closest to done goes first (so the most
         * VMs comply soonest), then turns; each VM hottest first. */
        if (x->bound && x->vm != y->vm) {
                const struct vm_state *a = &st->vms[x->vm], *b = &st->vms[y->vm];
                if (a->misplaced != b->misplaced)
                        return a->misplaced < b->misplaced;
                return a->turn < b->turn;
        }
        if (x->value != y->value)
                return x->value > y->value;
        if (rx != ry)
                return rx < ry;
        if (x->cell != y->cell)
                return x->cell < y->cell;
        return x->offset < y->offset;
}

static void heap_sift_down(const struct policy_state *st, const struct migrate_candidate *pool, size_t *heap,
                           size_t n, size_t i)
{
        for (;;) {
                size_t best = i, l = 2 * i + 1, r = l + 1, t;

                if (l < n && pool_before(st, &pool[heap[l]], &pool[heap[best]]))
                        best = l;
                if (r < n && pool_before(st, &pool[heap[r]], &pool[heap[best]]))
                        best = r;
                if (best == i)
                        return;
                t = heap[i];
                heap[i] = heap[best];
                heap[best] = t;
                i = best;
        }
}

/* Emission order: per VM in visiting order, then hottest first. */
static int emit_cmp(const void *a, const void *b, void *arg)
{
        const struct policy_state *st = arg;
        const struct migrate_candidate *x = a, *y = b;
        unsigned rx = st->vms[x->vm].rank, ry = st->vms[y->vm].rank;

        if (rx != ry)
                return rx < ry ? -1 : 1;
        if (x->hotness != y->hotness)
                return x->hotness > y->hotness ? -1 : 1;
        if (x->cell != y->cell)
                return x->cell < y->cell ? -1 : 1;
        return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int emit(const struct snapshot *s, const struct migrate_candidate *m, struct plan *out)
{
        const struct snap_vm *vm = &s->vms[m->vm];
        struct action *a;
        int r;

        r = plan_add(out, ACTION_MIGRATE, vm->id, m->vm, (int)m->cell, &a);
        if (r < 0)
                return r;
        a->from_node = m->from;
        a->node = m->to;
        a->node_id = s->host.node[m->to].id;
        a->node_mask = NODEMASK_BIT(m->to);
        a->offset = m->offset;
        a->bytes = m->bytes;
        a->priority = m->hotness;
        action_set_reason(a, "%s: cell %u chunk misplaced on node %d, home node %d", m->why, m->cell,
                          s->host.node[m->from].id, a->node_id);
        return 0;
}

int migrate_pool_settle(const struct snapshot *s, struct policy_state *st, struct plan *out)
{
        struct policy_work *w = st->work;
        struct policy_ledger *l = &st->ledger;
        size_t total, n, n_picked = 0;
        size_t *heap, *picked;
        int r;

        if (!w || w->pool_n == 0)
                return 0;
        total = n = w->pool_n;
        w->pool_n = 0;
        /* One buffer: the heap of pool indexes, then the picked ones. */
        if (2 * total > w->heap_allocated) {
                size_t *m = realloc(w->heap, 2 * total * sizeof(*m));
                if (!m)
                        return -ENOMEM;
                w->heap = m;
                w->heap_allocated = 2 * total;
        }
        heap = w->heap;
        picked = heap + total;
        for (size_t i = 0; i < n; i++)
                heap[i] = i;
        for (size_t i = n / 2; i-- > 0;)
                heap_sift_down(st, w->pool, heap, n, i);

        while (n > 0 && l->host_budget_left > 0) {
                size_t top = heap[0];
                const struct migrate_candidate *m = &w->pool[top];
                struct vm_state *vs = &st->vms[m->vm];

                heap[0] = heap[--n];
                heap_sift_down(st, w->pool, heap, n, 0);

                if (l->host_budget_left < m->bytes)
                        break; /* hottest first: nothing colder jumps the queue */
                if (m->cell < vs->n_cells &&
                    (vs->cells[m->cell].provisional || !NODEMASK_TEST(vs->cells[m->cell].home_mem, m->to)))
                        continue; /* its home changed after it was offered (a swap partner) */
                if (vs->budget_left < m->bytes) {
                        vs->budget_left = 0; /* the same holds within the VM */
                        continue;
                }
                if (l->phys_free[m->to] - (int64_t)m->bytes < (int64_t)st->params.mem_reserve_bytes)
                        continue; /* that node is full this period; others may still take theirs */
                rule_budget_charge(st, vs, m->bytes);
                l->phys_free[m->to] -= (int64_t)m->bytes;
                picked[n_picked++] = top;
        }

        /* Emitted per VM (visiting order), hottest first. */
        {
                _cleanup_free_ struct migrate_candidate *sel = calloc(n_picked ? n_picked : 1, sizeof(*sel));
                if (!sel)
                        return -ENOMEM;
                for (size_t i = 0; i < n_picked; i++)
                        sel[i] = w->pool[picked[i]];
                qsort_r(sel, n_picked, sizeof(*sel), emit_cmp, st);
                for (size_t i = 0; i < n_picked; i++) {
                        r = emit(s, &sel[i], out);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}
