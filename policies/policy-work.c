/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The per-period working data of a planning pass: the order VMs are visited in, and an index of
 * the cells living on each node for the swap search. Both cost O(VMs log VMs + cells). */
#include <errno.h>
#include <stdlib.h>

#include "policy-internal.h"

void policy_work_free(struct policy_work *w)
{
        if (!w)
                return;
        free(w->order);
        free(w->by_node);
        free(w->pool);
        free(w->heap);
        free(w);
}

/* Makes room for want elements of size bytes in *p (a realloc'd array); returns the array. */
static void *grow(void *p, size_t *allocated, size_t want, size_t size)
{
        void *m;

        if (want <= *allocated)
                return p;
        want = MAX(want, *allocated * 2);
        m = realloc(p, want * size);
        if (!m)
                return NULL;
        *allocated = want;
        return m;
}

struct order_key {
        double demand;
        unsigned rotation;
        unsigned index;
};

static int order_key_cmp(const void *a, const void *b)
{
        const struct order_key *x = a, *y = b;

        if (x->demand != y->demand)
                return x->demand > y->demand ? -1 : 1;
        return x->rotation < y->rotation ? -1 : x->rotation > y->rotation;
}

static int build_order(struct policy_work *w, const struct policy_state *st, const struct snapshot *s)
{
        _cleanup_free_ struct order_key *keys = NULL;
        unsigned *order;

        order = grow(w->order, &w->order_allocated, s->n_vms ? s->n_vms : 1, sizeof(*w->order));
        if (!order)
                return -ENOMEM;
        w->order = order;
        keys = calloc(s->n_vms ? s->n_vms : 1, sizeof(*keys));
        if (!keys)
                return -ENOMEM;
        /* Biggest first, so the ones hardest to place get first pick (first-fit decreasing); among
         * equals a rotation by period, so no VM always comes last. */
        for (unsigned i = 0; i < s->n_vms; i++)
                keys[i] = (struct order_key){
                        .demand = i < st->n_vms ? st->vms[i].demand : 0,
                        .rotation = (unsigned)((i + s->n_vms - s->period % s->n_vms) % s->n_vms),
                        .index = i,
                };
        qsort(keys, s->n_vms, sizeof(*keys), order_key_cmp);
        for (unsigned k = 0; k < s->n_vms; k++) {
                w->order[k] = keys[k].index;
                if (keys[k].index < st->n_vms) {
                        st->vms[keys[k].index].rank = k;
                        st->vms[keys[k].index].turn = keys[k].rotation;
                }
        }
        return 0;
}

static int build_by_node(struct policy_work *w, const struct policy_state *st, const struct snapshot *s)
{
        size_t count[SNAP_NODES_MAX] = {0}, total = 0;
        struct cell_ref *by_node;

        for (size_t i = 0; i < st->n_vms; i++)
                for (unsigned c = 0; c < st->vms[i].n_cells; c++)
                        if (nodemask_count(st->vms[i].cells[c].home_mem) == 1) {
                                count[nodemask_first(st->vms[i].cells[c].home_mem)]++;
                                total++;
                        }
        by_node = grow(w->by_node, &w->by_node_allocated, total ? total : 1, sizeof(*w->by_node));
        if (!by_node)
                return -ENOMEM;
        w->by_node = by_node;
        w->by_node_start[0] = 0;
        for (unsigned h = 0; h < SNAP_NODES_MAX; h++)
                w->by_node_start[h + 1] = w->by_node_start[h] + count[h];
        for (unsigned h = 0; h < SNAP_NODES_MAX; h++)
                count[h] = w->by_node_start[h];
        for (size_t i = 0; i < st->n_vms; i++)
                for (unsigned c = 0; c < st->vms[i].n_cells; c++)
                        if (nodemask_count(st->vms[i].cells[c].home_mem) == 1) {
                                int h = nodemask_first(st->vms[i].cells[c].home_mem);
                                w->by_node[count[h]++] = (struct cell_ref){.vm = (uint32_t)i, .cell = c};
                        }
        return 0;
}

int policy_work_prepare(struct policy_state *st, const struct snapshot *s)
{
        int r;

        if (!st->work) {
                st->work = calloc(1, sizeof(*st->work));
                if (!st->work)
                        return -ENOMEM;
        }
        st->work->pool_n = 0;
        r = build_order(st->work, st, s);
        if (r < 0)
                return r;
        return build_by_node(st->work, st, s);
}
