/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The placement that maximises the performance model (perf-model.h): each cell's vCPUs on one CPU
 * node with its memory there too, any number of cells per node. A node's value is its CPU share
 * times the work its cells would do at full share, so CPU contention is priced by the model itself
 * and has no limit. Memory has one (total minus the policies' reserve): a placement whose memory
 * cannot be there is no placement, and when many are worth the same (a light load) the one chosen
 * must be one the optimal baseline can reach.
 *
 * Small worlds are searched exhaustively (branch and bound over VMs). Otherwise the result comes
 * from a HEURISTIC: greedy (biggest VM first, each at its best spot given the ones before it), then
 * local search (re-place one VM at a time at its best spot given all the others, and exchange the
 * nodes of two cells of different VMs, until neither improves); it is a good placement, not a proven
 * optimum. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vnuma/model/perf-model.h"

#include "sim-internal.h"

#define EXHAUSTIVE_LEAVES_MAX 16777216.0 /* search space (product of choices) worth trying */
#define EXHAUSTIVE_STEPS_MAX  2000000
#define LOCAL_ROUNDS_MAX      50
#define EPS                   1e-9

struct mvm {
        unsigned vm; /* world index */
        unsigned n_cells;
        unsigned n_choices; /* m^n_cells: one CPU node per cell */
        double own;
        double demand[4];
        double bytes[4];
        double total;
        unsigned choice; /* current, when placed */
};

struct search {
        const struct sim_world *w;
        unsigned m; /* CPU nodes */
        unsigned cpu_node[SNAP_NODES_MAX];
        double cpus[SNAP_NODES_MAX], other[SNAP_NODES_MAX];
        double demand[SNAP_NODES_MAX]; /* vCPU demand placed on each node */
        double work[SNAP_NODES_MAX];   /* what it would do at full share: demand x memory speed */
        double mem_cap[SNAP_NODES_MAX], mem[SNAP_NODES_MAX];
        unsigned n;
        struct mvm *vms;
        /* Exhaustive search. */
        unsigned *cur, *best;
        double *rest; /* demand of the VMs from k on */
        double best_value;
        unsigned long steps;
        bool aborted;
};

/* One choice of a VM: the node of each cell, and what it adds to each node. */
struct contrib {
        int node[4];
        double demand[SNAP_NODES_MAX], work[SNAP_NODES_MAX], bytes[SNAP_NODES_MAX];
};

/* Memory all local: a cell's accesses go to its own node (own) and to its siblings' nodes (the
 * rest, evenly), as sim_cell_access_share counts them. */
static void cell_fractions(const struct mvm *v, const int *node, unsigned g, double *frac)
{
        for (unsigned h = 0; h < SNAP_NODES_MAX; h++)
                frac[h] = 0;
        if (v->n_cells == 1) {
                frac[node[g]] = 1;
                return;
        }
        for (unsigned q = 0; q < v->n_cells; q++)
                frac[node[q]] += q == g ? v->own : (1.0 - v->own) / (v->n_cells - 1);
}

static void contrib_of(const struct search *s, const struct mvm *v, unsigned choice, struct contrib *c)
{
        double speed[4];

        for (unsigned g = 0; g < v->n_cells; g++, choice /= s->m)
                c->node[g] = (int)s->cpu_node[choice % s->m];
        for (unsigned g = 0; g < v->n_cells; g++) {
                double frac[SNAP_NODES_MAX];

                cell_fractions(v, c->node, g, frac);
                speed[g] = perf_memory_speed(&s->w->host, (unsigned)c->node[g], frac);
                c->demand[c->node[g]] = 0;
                c->work[c->node[g]] = 0;
                c->bytes[c->node[g]] = 0;
        }
        for (unsigned g = 0; g < v->n_cells; g++) {
                c->demand[c->node[g]] += v->demand[g];
                c->work[c->node[g]] += v->demand[g] * speed[g];
                c->bytes[c->node[g]] += v->bytes[g];
        }
}

static bool contrib_fits(const struct search *s, const struct mvm *v, const struct contrib *c)
{
        for (unsigned g = 0; g < v->n_cells; g++) {
                unsigned h = (unsigned)c->node[g];
                if (s->mem[h] + c->bytes[h] > s->mem_cap[h])
                        return false;
        }
        return true;
}

static double node_value(const struct search *s, unsigned h, double demand, double work)
{
        return perf_cpu_share(s->cpus[h], demand + s->other[h]) * work;
}

/* Change of the total value if c is added (sign +1) or removed (-1). */
static double delta(const struct search *s, const struct mvm *v, const struct contrib *c, int sign)
{
        double d = 0;

        for (unsigned g = 0; g < v->n_cells; g++) {
                unsigned h = (unsigned)c->node[g];
                bool first = true;

                for (unsigned q = 0; q < g; q++)
                        first = first && c->node[q] != c->node[g];
                if (!first)
                        continue;
                d += node_value(s, h, s->demand[h] + sign * c->demand[h], s->work[h] + sign * c->work[h]) -
                     node_value(s, h, s->demand[h], s->work[h]);
        }
        return d;
}

static void apply(struct search *s, const struct mvm *v, const struct contrib *c, int sign)
{
        for (unsigned g = 0; g < v->n_cells; g++) {
                unsigned h = (unsigned)c->node[g];
                bool first = true;

                for (unsigned q = 0; q < g; q++)
                        first = first && c->node[q] != c->node[g];
                if (!first)
                        continue;
                s->demand[h] += sign * c->demand[h];
                s->work[h] += sign * c->work[h];
                s->mem[h] += sign * c->bytes[h];
        }
}

/* The best choice for v given everything else placed (v not placed): among the ones its memory fits,
 * or among all when none does (the world's memory is overfull; first touch spilled too). */
static unsigned best_response(const struct search *s, const struct mvm *v, double *ret_gain)
{
        unsigned best = 0;
        double best_gain = -INFINITY;
        bool best_fits = false;

        for (unsigned x = 0; x < v->n_choices; x++) {
                struct contrib c;
                bool fits;
                double g;

                contrib_of(s, v, x, &c);
                fits = contrib_fits(s, v, &c);
                if (best_fits && !fits)
                        continue;
                g = delta(s, v, &c, +1);
                if ((fits && !best_fits) || g > best_gain + EPS) {
                        best = x;
                        best_gain = g;
                        best_fits = fits;
                }
        }
        *ret_gain = best_gain;
        return best;
}

static void place(struct search *s, struct mvm *v, unsigned choice, int sign)
{
        struct contrib c;

        contrib_of(s, v, choice, &c);
        apply(s, v, &c, sign);
        if (sign > 0)
                v->choice = choice;
}

static double total_value(const struct search *s)
{
        double value = 0;
        for (unsigned k = 0; k < s->m; k++)
                value += node_value(s, s->cpu_node[k], s->demand[s->cpu_node[k]], s->work[s->cpu_node[k]]);
        return value;
}

/* The model's value of the placement, cell by cell, as perf_cell_work defines it. */
static double model_value(const struct search *s)
{
        double value = 0;

        for (unsigned k = 0; k < s->n; k++) {
                const struct mvm *v = &s->vms[k];
                struct contrib c;

                contrib_of(s, v, v->choice, &c);
                for (unsigned g = 0; g < v->n_cells; g++) {
                        unsigned h = (unsigned)c.node[g];
                        double frac[SNAP_NODES_MAX];

                        cell_fractions(v, c.node, g, frac);
                        value += perf_cell_work(&s->w->host, h, s->demand[h] + s->other[h], v->demand[g],
                                                frac);
                }
        }
        return value;
}

static unsigned digit(const struct search *s, unsigned choice, unsigned g)
{
        while (g-- > 0)
                choice /= s->m;
        return choice % s->m;
}

static unsigned with_digit(const struct search *s, unsigned choice, unsigned g, unsigned d)
{
        unsigned p = 1;
        for (unsigned q = 0; q < g; q++)
                p *= s->m;
        return choice - digit(s, choice, g) * p + d * p;
}

/* Re-places v at its best spot given all the others; true if that is worth more. */
static bool improve_vm(struct search *s, struct mvm *v)
{
        struct contrib c;
        double now, gain;
        unsigned x;

        contrib_of(s, v, v->choice, &c);
        apply(s, v, &c, -1);
        now = delta(s, v, &c, +1);
        x = best_response(s, v, &gain);
        if (gain > now + EPS) {
                place(s, v, x, +1);
                return true;
        }
        apply(s, v, &c, +1);
        return false;
}

/* Exchanges the nodes of cell ga of a and cell gb of b if that is worth more and the memory fits:
 * what moving one VM at a time cannot find when every node is full (a big cell for a small one). */
static bool improve_swap(struct search *s, struct mvm *a, unsigned ga, struct mvm *b, unsigned gb)
{
        unsigned da = digit(s, a->choice, ga), db = digit(s, b->choice, gb), xa, xb;
        unsigned ha = s->cpu_node[da], hb = s->cpu_node[db];
        struct contrib ca, cb, na, nb;
        double before;
        bool better;

        if (da == db)
                return false;
        xa = with_digit(s, a->choice, ga, db);
        xb = with_digit(s, b->choice, gb, da);
        contrib_of(s, a, a->choice, &ca);
        contrib_of(s, b, b->choice, &cb);
        contrib_of(s, a, xa, &na);
        contrib_of(s, b, xb, &nb);
        before = total_value(s);
        apply(s, a, &ca, -1);
        apply(s, b, &cb, -1);
        apply(s, a, &na, +1);
        apply(s, b, &nb, +1);
        better = total_value(s) > before + EPS &&
                 (s->mem[ha] <= s->mem_cap[ha] || a->bytes[ga] >= b->bytes[gb]) &&
                 (s->mem[hb] <= s->mem_cap[hb] || b->bytes[gb] >= a->bytes[ga]);
        if (better) {
                a->choice = xa;
                b->choice = xb;
                return true;
        }
        apply(s, a, &na, -1);
        apply(s, b, &nb, -1);
        apply(s, a, &ca, +1);
        apply(s, b, &cb, +1);
        return false;
}

static void heuristic(struct search *s)
{
        for (unsigned i = 0; i < s->n; i++) {
                double gain;
                place(s, &s->vms[i], best_response(s, &s->vms[i], &gain), +1);
        }
        for (unsigned round = 0; round < LOCAL_ROUNDS_MAX; round++) {
                bool improved = false;

                for (unsigned i = 0; i < s->n; i++)
                        improved |= improve_vm(s, &s->vms[i]);
                for (unsigned i = 0; i < s->n; i++)
                        for (unsigned j = i + 1; j < s->n; j++)
                                for (unsigned ga = 0; ga < s->vms[i].n_cells; ga++)
                                        for (unsigned gb = 0; gb < s->vms[j].n_cells; gb++)
                                                improved |= improve_swap(s, &s->vms[i], ga, &s->vms[j], gb);
                if (!improved)
                        break;
        }
}

/* No completion of the placed part beats: every node does at most its CPUs and at most its work,
 * and the VMs still to place add at most their demand (share <= 1, speed <= 1). */
static double bound(const struct search *s, unsigned k)
{
        double ub = 0, room = 0;

        for (unsigned q = 0; q < s->m; q++) {
                unsigned h = s->cpu_node[q];
                ub += MIN(s->cpus[h], s->work[h]);
                room += MAX(0.0, s->cpus[h] - s->work[h]);
        }
        return ub + MIN(s->rest[k], room);
}

static void exhaustive(struct search *s, unsigned k)
{
        if (s->aborted)
                return;
        if (k == s->n) {
                double value = total_value(s);
                if (value > s->best_value + EPS) {
                        s->best_value = value;
                        memcpy(s->best, s->cur, s->n * sizeof(*s->cur));
                }
                return;
        }
        if (bound(s, k) <= s->best_value + EPS)
                return;
        for (unsigned x = 0; x < s->vms[k].n_choices; x++) {
                struct contrib c;

                if (++s->steps > EXHAUSTIVE_STEPS_MAX) {
                        s->aborted = true;
                        return;
                }
                contrib_of(s, &s->vms[k], x, &c);
                if (!contrib_fits(s, &s->vms[k], &c))
                        continue;
                apply(s, &s->vms[k], &c, +1);
                s->cur[k] = x;
                exhaustive(s, k + 1);
                apply(s, &s->vms[k], &c, -1);
        }
}

static int cmp_mvm_demand_desc(const void *x, const void *y)
{
        const struct mvm *a = x, *b = y;
        if (a->total != b->total)
                return a->total > b->total ? -1 : 1;
        return a->vm < b->vm ? -1 : a->vm > b->vm;
}

int sim_model_optimum(const struct sim_world *w, uint64_t mem_reserve, int (*assign)[4], double *ret_value,
                      bool *ret_exact)
{
        struct search s = {.w = w};
        _cleanup_free_ struct mvm *vms = NULL;
        _cleanup_free_ unsigned *cur = NULL, *best = NULL;
        _cleanup_free_ double *rest = NULL;
        double leaves = 1, value;
        bool exact = false;

        for (unsigned h = 0; h < w->host.n_nodes; h++)
                if (w->host.node[h].n_cpus > 0) {
                        s.cpu_node[s.m++] = h;
                        s.cpus[h] = w->host.node[h].n_cpus;
                        s.other[h] = w->other_load[h];
                        s.mem_cap[h] = (double)(w->host.node[h].mem_total_bytes -
                                                MIN(w->host.node[h].mem_total_bytes, mem_reserve));
                }
        vms = calloc(w->n_vms + 1, sizeof(*vms));
        if (!vms)
                return -ENOMEM;
        for (unsigned i = 0; i < w->n_vms && s.m > 0; i++) {
                const struct sim_vm *vm = &w->vms[i];
                struct mvm *v = &vms[s.n];

                if (!vm->active)
                        continue;
                *v = (struct mvm){.vm = i, .n_cells = MIN(vm->n_cells, 4u), .n_choices = 1, .own = vm->own};
                for (unsigned q = 0; q < vm->n_vcpus; q++)
                        if (vm->vcpus[q].cell < v->n_cells)
                                v->demand[vm->vcpus[q].cell] += vm->vcpus[q].busy;
                for (unsigned g = 0; g < v->n_cells; g++) {
                        v->bytes[g] = (double)vm->cells[g].size_bytes;
                        v->n_choices *= s.m;
                        v->total += v->demand[g];
                }
                leaves *= v->n_choices;
                s.n++;
        }
        qsort(vms, s.n, sizeof(*vms), cmp_mvm_demand_desc);
        s.vms = vms;

        heuristic(&s);

        if (s.n > 0 && leaves <= EXHAUSTIVE_LEAVES_MAX) {
                cur = calloc(s.n, sizeof(*cur));
                best = calloc(s.n, sizeof(*best));
                rest = calloc(s.n + 1, sizeof(*rest));
                if (!cur || !best || !rest)
                        return -ENOMEM;
                for (unsigned k = s.n; k-- > 0;)
                        rest[k] = rest[k + 1] + vms[k].total;
                s.best_value = total_value(&s); /* the heuristic's: only a better one replaces it */
                for (unsigned k = 0; k < s.n; k++) {
                        best[k] = vms[k].choice;
                        place(&s, &vms[k], vms[k].choice, -1);
                }
                s.cur = cur;
                s.best = best;
                s.rest = rest;
                exhaustive(&s, 0);
                exact = !s.aborted;
                /* place() records the choice, so vms[k].choice is the best one from here on. */
                for (unsigned k = 0; k < s.n; k++)
                        place(&s, &vms[k], best[k], +1);
        } else if (s.n == 0)
                exact = true;
        value = model_value(&s);

        for (unsigned i = 0; i < w->n_vms; i++)
                for (unsigned g = 0; g < 4; g++)
                        assign[i][g] = -1;
        for (unsigned k = 0; k < s.n; k++) {
                struct contrib c;
                contrib_of(&s, &vms[k], vms[k].choice, &c);
                for (unsigned g = 0; g < vms[k].n_cells; g++)
                        assign[vms[k].vm][g] = c.node[g];
        }
        *ret_value = value;
        *ret_exact = exact;
        return 0;
}
