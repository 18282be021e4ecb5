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

#include "vnuma/policies/policy-rules.h"

#include "policy-internal.h"

/* Chunk offsets to filter indexes: a shift when the unit is a power of two (it always is in
 * practice), a division otherwise. */
struct chunk_indexer {
        uint64_t unit;
        int shift; /* -1: divide */
};

static struct chunk_indexer chunk_indexer_for(const struct snap_cell *cell)
{
        uint64_t unit = cell->chunk_bytes;

        if (unit == 0 && cell->n_chunks > 0)
                unit = cell->chunks[0].bytes;
        if (unit == 0)
                return (struct chunk_indexer){.unit = 0, .shift = -1};
        if ((unit & (unit - 1)) == 0)
                return (struct chunk_indexer){.unit = unit, .shift = __builtin_ctzll(unit)};
        return (struct chunk_indexer){.unit = unit, .shift = -1};
}

static uint64_t chunk_index(const struct chunk_indexer *ix, const struct snap_chunk *ch)
{
        if (ix->shift >= 0)
                return ch->offset >> ix->shift;
        return ix->unit ? ch->offset / ix->unit : 0;
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

static void cand_swap(struct migrate_candidate *a, struct migrate_candidate *b)
{
        struct migrate_candidate t = *a;
        *a = *b;
        *b = t;
}

/* The per-cell shortlist is a min-heap on hotness per byte (stored in .value until the window's
 * total is known): its root is the weakest kept candidate. */
static bool weaker(const struct migrate_candidate *x, const struct migrate_candidate *y)
{
        if (x->value != y->value)
                return x->value < y->value;
        return x->offset > y->offset;
}

static void shortlist_up(struct migrate_candidate *v, size_t i)
{
        while (i > 0) {
                size_t parent = (i - 1) / 2;
                if (!weaker(&v[i], &v[parent]))
                        return;
                cand_swap(&v[i], &v[parent]);
                i = parent;
        }
}

static void shortlist_down(struct migrate_candidate *v, size_t n, size_t i)
{
        for (;;) {
                size_t low = i, l = 2 * i + 1, r = l + 1;

                if (l < n && weaker(&v[l], &v[low]))
                        low = l;
                if (r < n && weaker(&v[r], &v[low]))
                        low = r;
                if (low == i)
                        return;
                cand_swap(&v[i], &v[low]);
                i = low;
        }
}

/* How many candidates of one VM are worth keeping: it moves at most its budget this period; twice
 * that leaves room for some to find their node full. */
static size_t vm_keep(const struct vm_state *vs, uint64_t unit)
{
        return (size_t)MIN(2 * (vs->budget_left / (unit ? unit : 1)) + 2, (uint64_t)SIZE_MAX / 2);
}

/* Walks the cell's window: records each chunk in the two-stage filter and offers the eligible
 * misplaced ones (only the hottest the VM could take: a shortlist). Returns the bytes seen and,
 * through ret_placed, those already in place. */
static int cell_offer(const struct snapshot *s, unsigned vi, struct policy_state *st, struct vm_state *vs,
                      unsigned c, const struct migrate_pass *pass, uint64_t *ret_seen, uint64_t *ret_placed,
                      bool *ret_pending)
{
        const struct snap_vm *vm = &s->vms[vi];
        const struct snap_cell *cell = &vm->cells[c];
        struct cell_state *cs = &vs->cells[c];
        struct policy_work *w = st->work;
        struct chunk_indexer ix = chunk_indexer_for(cell);
        uint64_t placed = 0, seen = 0, hot_sum = 0;
        size_t cap = MIN((size_t)cell->n_chunks, vm_keep(vs, ix.unit)), n = 0;
        struct migrate_candidate *list;
        bool pending = false;
        int dest_from[SNAP_NODES_MAX]; /* the destination only depends on where a chunk is */
        int r;

        for (unsigned h = 0; h < SNAP_NODES_MAX; h++)
                dest_from[h] = -2;
        r = pool_reserve(w, cap);
        if (r < 0)
                return r;
        list = w->pool + w->pool_n;

        for (unsigned k = 0; k < cell->n_chunks; k++) {
                const struct snap_chunk *ch = &cell->chunks[k];
                uint64_t idx = chunk_index(&ix, ch);
                struct migrate_candidate m;
                int to;

                if (ch->node < 0 || (unsigned)ch->node >= s->host.n_nodes)
                        continue;
                seen += ch->bytes;
                hot_sum += ch->hotness;
                if (pass->home_is_set && NODEMASK_TEST(cs->home_mem, ch->node))
                        to = -1; /* home: no need to ask */
                else if (pass->dest_by_node && dest_from[ch->node] != -2)
                        to = dest_from[ch->node];
                else
                        to = dest_from[ch->node] =
                                pass->dest(s, vm, vs, c, ch, &st->ledger, st->params.mem_reserve_bytes);
                if (to < 0 || to == ch->node) {
                        placed += ch->bytes;
                        if (pass->two_stage)
                                (void)rule_two_stage(cs, idx, false);
                        continue;
                }
                pending = true;
                if (pass->two_stage && !rule_two_stage(cs, idx, true))
                        continue;
                if (cell_chunk_backing_off(cs, ch->offset, s->period))
                        continue;
                if (ch->bytes == 0 || cap == 0)
                        continue;
                m = (struct migrate_candidate){
                        .value = (double)ch->hotness / (double)ch->bytes,
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
                if (n < cap) {
                        list[n] = m;
                        shortlist_up(list, n++);
                } else if (weaker(&list[0], &m)) {
                        list[0] = m;
                        shortlist_down(list, n, 0);
                }
        }
        /* Worth per byte: the chunk's share of the cell's accesses times the cell's vCPU demand. A
         * window that covers part of the cell stands for all of it: its total scales by
         * present / seen. */
        for (size_t i = 0; i < n; i++) {
                struct migrate_candidate *m = &list[i];
                double scale = seen > 0 && cs->present > seen ? (double)cs->present / (double)seen : 1.0;
                double share = hot_sum > 0 ? (double)m->hotness / ((double)hot_sum * scale)
                                           : (double)m->bytes / (double)(MAX(seen, cs->present) ?: 1);
                m->value = (cs->demand + 1e-6) * share / (double)m->bytes;
        }
        w->pool_n += n;
        *ret_seen = seen;
        *ret_placed = placed;
        *ret_pending = pending;
        return 0;
}

/* Within one VM: more valuable first, then cell, then offset (a total order). */
static bool vm_before(const struct migrate_candidate *x, const struct migrate_candidate *y)
{
        if (x->value != y->value)
                return x->value > y->value;
        if (x->cell != y->cell)
                return x->cell < y->cell;
        return x->offset < y->offset;
}

/* Quickselect: afterwards v[0 .. k) hold the k first of v[0 .. n) under vm_before (in any order). */
static void select_first(struct migrate_candidate *v, size_t n, size_t k)
{
        size_t lo = 0, hi = n;

        while (hi - lo > 1 && k > lo && k < hi) {
                size_t mid = lo + (hi - lo) / 2, store = lo;

                cand_swap(&v[mid], &v[hi - 1]); /* pivot at the end */
                for (size_t i = lo; i < hi - 1; i++)
                        if (vm_before(&v[i], &v[hi - 1]))
                                cand_swap(&v[i], &v[store++]);
                cand_swap(&v[store], &v[hi - 1]);
                if (store == k)
                        return;
                if (store < k)
                        lo = store + 1;
                else
                        hi = store;
        }
}

/* A VM can take at most its budget this period: of its candidates keep the best ones worth twice
 * that (room for some to find their node full), so the pool stays O(budgets), not O(misplaced). */
static void pool_keep_best(struct policy_work *w, size_t first, const struct vm_state *vs)
{
        struct migrate_candidate *v = w->pool + first;
        size_t n = w->pool_n - first, keep;
        uint64_t smallest = UINT64_MAX;

        for (size_t i = 0; i < n; i++) {
                v[i].rank = vs->rank;
                v[i].turn = vs->turn;
                v[i].misplaced = vs->misplaced;
                smallest = MIN(smallest, v[i].bytes);
        }
        if (n == 0)
                return;
        keep = MIN(n, vm_keep(vs, smallest));
        if (keep < n) {
                select_first(v, n, keep);
                w->pool_n = first + keep;
        }
}

int vm_migrate_pass(const struct snapshot *s, unsigned vm_index, struct policy_state *st,
                    struct vm_state *vs, const struct migrate_pass *pass, struct plan *out)
{
        const struct snap_vm *vm = &s->vms[vm_index];
        const struct policy_params *p = &st->params;
        int r;

        size_t first = st->work->pool_n;

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
        pool_keep_best(st->work, first, vs);
        return 0;
}

/* Pool order: the operator's bindings first, then the most valuable; then the VM visited first, its
 * cell, its offset. Bindings are not guesses with a value: among them the VM closest to done goes
 * first (so the most VMs comply soonest), then turns; each VM hottest first. */
static bool pool_before(const struct migrate_candidate *x, const struct migrate_candidate *y)
{
        if (x->bound != y->bound)
                return x->bound;
        if (x->bound && x->vm != y->vm) {
                if (x->misplaced != y->misplaced)
                        return x->misplaced < y->misplaced;
                return x->turn < y->turn;
        }
        if (x->value != y->value)
                return x->value > y->value;
        if (x->rank != y->rank)
                return x->rank < y->rank;
        if (x->cell != y->cell)
                return x->cell < y->cell;
        return x->offset < y->offset;
}

static void heap_sift_down(const struct migrate_candidate *pool, size_t *heap, size_t n, size_t i)
{
        for (;;) {
                size_t best = i, l = 2 * i + 1, r = l + 1, t;

                if (l < n && pool_before(&pool[heap[l]], &pool[heap[best]]))
                        best = l;
                if (r < n && pool_before(&pool[heap[r]], &pool[heap[best]]))
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
static int emit_cmp(const void *a, const void *b)
{
        const struct migrate_candidate *x = a, *y = b;

        if (x->rank != y->rank)
                return x->rank < y->rank ? -1 : 1;
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
                heap_sift_down(w->pool, heap, n, i);

        while (n > 0 && l->host_budget_left > 0) {
                size_t top = heap[0];
                const struct migrate_candidate *m = &w->pool[top];
                struct vm_state *vs = &st->vms[m->vm];

                heap[0] = heap[--n];
                heap_sift_down(w->pool, heap, n, 0);

                if (!rule_budget_allows(l->host_budget_left, l->host_budget_full, m->bytes))
                        break; /* hottest first: nothing colder jumps the queue */
                if (m->cell < vs->n_cells &&
                    (vs->cells[m->cell].provisional || !NODEMASK_TEST(vs->cells[m->cell].home_mem, m->to)))
                        continue; /* its home changed after it was offered (a swap partner) */
                if (!rule_budget_allows(vs->budget_left, vs->budget_full, m->bytes)) {
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
                qsort(sel, n_picked, sizeof(*sel), emit_cmp);
                for (size_t i = 0; i < n_picked; i++) {
                        r = emit(s, &sel[i], out);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}
