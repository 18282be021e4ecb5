/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placement advice for a guest about to start, on the planner's ledger (numad's -w), and the
 * starting home it then gets. */
#include <errno.h>

#include "vnuma/model/perf-model.h"
#include "vnuma/policies/policy-advise.h"
#include "vnuma/policies/policy-rules.h"

#define ADVISE_EXHAUSTIVE_MAX 12 /* nodes: every subset up to this, 4096 sets */

struct set_view {
        unsigned count;
        double cpus, load, cap;
        int64_t usable; /* free memory above the reserve */
        unsigned dist;  /* SLIT distances between the nodes of the set, each pair once */
};

static void set_view(const struct snap_host *h, const struct policy_ledger *l, const struct policy_params *p,
                     nodemask_t m, struct set_view *ret)
{
        struct set_view v = {};

        for (unsigned i = 0; i < h->n_nodes; i++) {
                if (!NODEMASK_TEST(m, i))
                        continue;
                v.count++;
                v.cpus += h->node[i].n_cpus;
                v.load += l->cpu_load[i];
                v.cap += (double)h->node[i].n_cpus * p->imbalance_pct / 100.0;
                if (l->mem_free[i] > (int64_t)p->mem_reserve_bytes)
                        v.usable += l->mem_free[i] - (int64_t)p->mem_reserve_bytes;
                for (unsigned j = i + 1; j < h->n_nodes; j++)
                        if (NODEMASK_TEST(m, j))
                                v.dist += h->distance[i][j];
        }
        *ret = v;
}

static double set_share(const struct set_view *v, unsigned vcpus)
{
        return perf_cpu_share(v->cpus, v->load + vcpus);
}

static bool set_cpu_fits(const struct set_view *v, unsigned vcpus)
{
        /* rule_cpu_fits over the set's CPUs together, with its noise slack. */
        return v->cpus > 0 && v->load + vcpus <= v->cap + RULE_CPU_SLACK + 1e-9;
}

/* Step 1: the emptiest single node that holds both. */
static int best_single(const struct snap_host *h, const struct policy_ledger *l,
                       const struct policy_params *p, const struct advise_request *req)
{
        int best = -1;
        double best_share = 0, best_idle = 0;

        for (unsigned i = 0; i < h->n_nodes; i++) {
                double share, idle;

                if (!rule_cpu_fits(h, l, p->imbalance_pct, (int)i, req->vcpus) ||
                    !rule_mem_fits(l, p->mem_reserve_bytes, (int)i, req->mem_bytes))
                        continue;
                share = perf_cpu_share(h->node[i].n_cpus, l->cpu_load[i] + req->vcpus);
                idle = h->node[i].n_cpus - l->cpu_load[i] - req->vcpus;
                if (best < 0 || share > best_share + 1e-9 ||
                    (share > best_share - 1e-9 &&
                     (idle > best_idle + 1e-9 ||
                      (idle > best_idle - 1e-9 && l->mem_free[i] > l->mem_free[best])))) {
                        best = (int)i;
                        best_share = share;
                        best_idle = idle;
                }
        }
        return best;
}

/* Whether a is a better set than b (b valid), for steps 2 (cpu_first false) and 3 (true). */
static bool set_better(const struct set_view *a, const struct set_view *b, unsigned vcpus, bool cpu_first)
{
        double sa = set_share(a, vcpus), sb = set_share(b, vcpus);

        if (a->count != b->count)
                return a->count < b->count;
        if (cpu_first && (sa > sb + 1e-9 || sa < sb - 1e-9))
                return sa > sb;
        if (a->dist != b->dist)
                return a->dist < b->dist;
        return sa > sb + 1e-9;
}

/* The nearest nodes to anchor, one by one, until the set holds the request: a big host's
 * candidates, one per anchor. */
static nodemask_t grow_from(const struct snap_host *h, const struct policy_ledger *l,
                            const struct policy_params *p, const struct advise_request *req, unsigned anchor,
                            bool need_cpu)
{
        nodemask_t m = NODEMASK_BIT(anchor);
        struct set_view v;

        for (;;) {
                int pick = -1;

                set_view(h, l, p, m, &v);
                if (v.usable >= (int64_t)req->mem_bytes && v.cpus > 0 &&
                    (!need_cpu || set_cpu_fits(&v, req->vcpus)))
                        return m;
                for (unsigned i = 0; i < h->n_nodes; i++)
                        if (!NODEMASK_TEST(m, i) &&
                            (pick < 0 || h->distance[anchor][i] < h->distance[anchor][pick]))
                                pick = (int)i;
                if (pick < 0)
                        return 0;
                m |= NODEMASK_BIT(pick);
        }
}

static nodemask_t best_set(const struct snap_host *h, const struct policy_ledger *l,
                           const struct policy_params *p, const struct advise_request *req, bool need_cpu)
{
        nodemask_t best = 0;
        struct set_view bv = {}, v;

        if (h->n_nodes <= ADVISE_EXHAUSTIVE_MAX) {
                for (nodemask_t m = 1; m < ((nodemask_t)1 << h->n_nodes); m++) {
                        set_view(h, l, p, m, &v);
                        if (v.usable < (int64_t)req->mem_bytes || v.cpus <= 0 ||
                            (need_cpu && !set_cpu_fits(&v, req->vcpus)))
                                continue;
                        if (!best || set_better(&v, &bv, req->vcpus, !need_cpu)) {
                                best = m;
                                bv = v;
                        }
                }
                return best;
        }
        for (unsigned a = 0; a < h->n_nodes; a++) {
                nodemask_t m = grow_from(h, l, p, req, a, need_cpu);

                if (!m)
                        continue;
                set_view(h, l, p, m, &v);
                if (!best || set_better(&v, &bv, req->vcpus, !need_cpu)) {
                        best = m;
                        bv = v;
                }
        }
        return best;
}

int policy_advise(const struct snap_host *h, const struct policy_ledger *l, const struct policy_params *p,
                  const struct advise_request *req, nodemask_t *ret)
{
        nodemask_t m;
        int one;

        if (!h || !l || !p || !req || !ret || req->vcpus == 0 || h->n_nodes == 0 ||
            h->n_nodes > SNAP_NODES_MAX)
                return -EINVAL;
        one = best_single(h, l, p, req);
        if (one >= 0) {
                *ret = NODEMASK_BIT(one);
                return 0;
        }
        m = best_set(h, l, p, req, true);
        if (!m)
                m = best_set(h, l, p, req, false);
        if (!m)
                return -ENOSPC;
        *ret = m;
        return 0;
}

int policy_advise_snapshot(const struct snapshot *s, const struct policy_params *p,
                           const struct advise_request *req, nodemask_t *ret)
{
        _cleanup_(policy_state_freep) struct policy_state *st = NULL;
        int r;

        if (!s || !p)
                return -EINVAL;
        r = policy_state_new(p, &st);
        if (r < 0)
                return r;
        r = policy_state_sync(st, s);
        if (r < 0)
                return r;
        policy_state_begin_period(st, s);
        return policy_advise(&s->host, &st->ledger, p, req, ret);
}

static nodemask_t cpu_mask_for(const struct snap_host *h, nodemask_t mem)
{
        nodemask_t cpu = 0;

        for (unsigned i = 0; i < h->n_nodes; i++)
                if (NODEMASK_TEST(mem, i)) {
                        int c = rule_cpu_node_for(h, (int)i);

                        if (c >= 0)
                                cpu |= NODEMASK_BIT(c);
                }
        return cpu;
}

void policy_seed_home(const struct snap_host *h, const struct snap_vm *vm, struct vm_state *vs)
{
        nodemask_t m, cpu;
        unsigned n, k = 0;
        int first;

        if (!h || !vm || !vs || vm->policy.mode != VM_POLICY_AUTO || idset_is_empty(&vm->policy.start_nodes))
                return;
        m = snap_host_mask_of_ids(h, &vm->policy.start_nodes);
        /* Only nodes this host has: an id it does not know leaves the VM to the planner. */
        IDSET_FOREACH (id, &vm->policy.start_nodes)
                if (snap_host_node_pos(h, id) < 0)
                        return;
        cpu = cpu_mask_for(h, m);
        n = (unsigned)__builtin_popcount(m);
        if (!m || !cpu || vs->n_cells == 0)
                return;
        first = __builtin_ctz(m);
        if (n == 1) {
                vs->group_home = first;
                for (unsigned c = 0; c < vs->n_cells; c++) {
                        vs->cells[c].home_mem = m;
                        vs->cells[c].home_cpu = cpu;
                }
                return;
        }
        if (vs->n_cells == 1) {
                vs->cells[0].home_mem = m;
                vs->cells[0].home_cpu = cpu;
                vs->split = true;
                return;
        }
        /* Several nodes and several cells: cell c on the c-th node of the set, round robin. */
        vs->split = true;
        for (unsigned c = 0; c < vs->n_cells; c++) {
                int pos = -1;

                for (unsigned i = 0, seen = 0; i < h->n_nodes; i++)
                        if (NODEMASK_TEST(m, i) && seen++ == k % n) {
                                pos = (int)i;
                                break;
                        }
                k++;
                vs->cells[c].home_mem = NODEMASK_BIT(pos);
                vs->cells[c].home_cpu = cpu_mask_for(h, NODEMASK_BIT(pos));
        }
}

int policy_advise_format(const struct snap_host *h, nodemask_t mask, char *buf, size_t size)
{
        struct idset ids = IDSET_EMPTY;

        for (unsigned i = 0; h && i < h->n_nodes; i++)
                if (NODEMASK_TEST(mask, i))
                        idset_add(&ids, h->node[i].id);
        return idset_format(&ids, buf, size);
}
