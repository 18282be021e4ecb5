/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The per-period working data of a planning pass: the order VMs are visited in, and an index of
 * the cells living on each node for the swap search. Both cost O(VMs log VMs + cells). */
#include <errno.h>
#include <stdbool.h>
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
        bool waiting;  /* has no home yet */
        double regret; /* bytes it would move more on its second-best node than on its best */
        double demand;
        unsigned rotation;
        unsigned index;
};

static int order_key_cmp(const void *a, const void *b)
{
        const struct order_key *x = a, *y = b;

        if (x->waiting != y->waiting)
                return x->waiting ? 1 : -1;
        if (x->regret != y->regret)
                return x->regret > y->regret ? -1 : 1;
        if (x->demand != y->demand)
                return x->demand > y->demand ? -1 : 1;
        return x->rotation < y->rotation ? -1 : x->rotation > y->rotation;
}

static bool vm_waiting(const struct vm_state *vs)
{
        if (vs->group_home >= 0 || vs->split)
                return false;
        for (unsigned c = 0; c < vs->n_cells; c++)
                if (vs->cells[c].home_mem != 0)
                        return false;
        return true;
}

/* What a VM loses, in bytes to move, if it cannot have the node that holds most of its memory and
 * must take the next one: the regret of the assignment heuristics (Martello and Toth) for the
 * generalized assignment problem, which is what placing VMs on full nodes is. */
static double vm_regret(const struct snap_vm *vm, unsigned n_nodes)
{
        double best = 0, second = 0;

        for (unsigned h = 0; h < n_nodes; h++) {
                double b = 0;
                for (unsigned c = 0; c < vm->n_cells; c++)
                        b += (double)vm->cells[c].resident_bytes[h];
                if (b > best) {
                        second = best;
                        best = b;
                } else if (b > second)
                        second = b;
        }
        return best - second;
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
        /* The VMs with a home first, so their load is in the ledger before anyone chooses. Then the
         * ones still waiting, the one that loses most when its best node is full first: on a host
         * whose CPUs are all taken some VMs cannot have their best node, and which ones decides
         * how many bytes move (biggest-first placed 13 % more bytes than needed at CPU load 1.0 in
         * the simulator, regret-first 7 %). Then biggest first, so the ones hardest to place get
         * first pick (first-fit decreasing); among equals a rotation by period, so no VM always
         * comes last. */
        for (unsigned i = 0; i < s->n_vms; i++) {
                bool waiting = i < st->n_vms && vm_waiting(&st->vms[i]);
                keys[i] = (struct order_key){
                        .waiting = waiting,
                        .regret = waiting ? vm_regret(&s->vms[i], s->host.n_nodes) : 0,
                        .demand = i < st->n_vms ? st->vms[i].demand : 0,
                        .rotation = (unsigned)((i + s->n_vms - s->period % s->n_vms) % s->n_vms),
                        .index = i,
                };
        }
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
