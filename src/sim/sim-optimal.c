/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The reference placement for locality (the model's is in sim-optimal-model.c). Each cell goes whole onto
 * one node with CPUs; a VM's locality is then sum over cells of demand * (own + (1 - own) / (n - 1) *
 * siblings on the same node). Capacities are the ones the policies use (CPUs * imbalance_pct, memory minus
 * the reserve).
 *
 * "exact" means proven: either a greedy packing reaches the per-VM upper bound (every VM at its
 * best as if alone), or branch-and-bound finished. Otherwise `locality` is the best packing found
 * and `upper_bound` the relaxation; the report labels which one it prints. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim-internal.h"

#define BNB_NODE_LIMIT 4000000

struct item {
        unsigned vm; /* world index */
        unsigned cell;
        double demand;
        uint64_t bytes;
};

struct packer {
        const struct sim_world *w;
        unsigned n_nodes;
        int cpu_nodes[SNAP_NODES_MAX];
        unsigned n_cpu_nodes;
        double cpu_cap[SNAP_NODES_MAX];
        double mem_cap[SNAP_NODES_MAX];
        double cpu_used[SNAP_NODES_MAX];
        double mem_used[SNAP_NODES_MAX];
};

static double cell_demand(const struct sim_vm *vm, unsigned c)
{
        double d = 0;
        for (unsigned v = 0; v < vm->n_vcpus; v++)
                if (vm->vcpus[v].cell == c)
                        d += vm->vcpus[v].busy;
        return d;
}

/* Locality-weighted value (demand units) of one VM under assignment a. */
static double vm_value(const struct sim_vm *vm, const int *a)
{
        double val = 0;

        for (unsigned c = 0; c < vm->n_cells; c++) {
                unsigned same = 0;
                if (a[c] < 0)
                        continue;
                if (vm->n_cells == 1) {
                        val += cell_demand(vm, c);
                        continue;
                }
                for (unsigned g = 0; g < vm->n_cells; g++)
                        if (g != c && a[g] == a[c])
                                same++;
                val += cell_demand(vm, c) * (vm->own + (1.0 - vm->own) / (vm->n_cells - 1) * same);
        }
        return val;
}

static double vm_total_demand(const struct sim_vm *vm)
{
        double d = 0;
        for (unsigned c = 0; c < vm->n_cells; c++)
                d += cell_demand(vm, c);
        return d;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

/* Best value a VM could have alone on an empty host. */
static double vm_upper_bound(const struct packer *p, const struct sim_vm *vm)
{
        double max_cpu = 0, max_mem = 0, d[4], b[4], sum_d = 0, sum_b = 0, total = vm_total_demand(vm);
        unsigned k_cpu = 0, k_mem = 0, k;

        for (unsigned i = 0; i < p->n_cpu_nodes; i++) {
                max_cpu = MAX(max_cpu, p->cpu_cap[p->cpu_nodes[i]]);
                max_mem = MAX(max_mem, p->mem_cap[p->cpu_nodes[i]]);
        }
        for (unsigned c = 0; c < vm->n_cells; c++) {
                d[c] = cell_demand(vm, c);
                b[c] = (double)vm->cells[c].size_bytes;
        }
        qsort(d, vm->n_cells, sizeof(double), cmp_double);
        qsort(b, vm->n_cells, sizeof(double), cmp_double);
        for (unsigned c = 0; c < vm->n_cells; c++) {
                if ((sum_d += d[c]) <= max_cpu + 1e-9)
                        k_cpu++;
                if ((sum_b += b[c]) <= max_mem)
                        k_mem++;
        }
        k = MIN(k_cpu, k_mem);
        if (k == 0)
                return 0;
        if (vm->n_cells == 1 || k >= vm->n_cells)
                return k >= vm->n_cells ? total : 0;
        return total * (vm->own + (1.0 - vm->own) / (vm->n_cells - 1) * (k - 1));
}

static bool fits(const struct packer *p, int h, double d, double b)
{
        return p->cpu_used[h] + d <= p->cpu_cap[h] + 1e-9 && p->mem_used[h] + b <= p->mem_cap[h];
}

static void put(struct packer *p, int h, double d, double b, int sign)
{
        p->cpu_used[h] += sign * d;
        p->mem_used[h] += sign * b;
}

/* Greedy: biggest VMs first, whole VM on the fullest node that still takes it (best fit), else cell
 * by cell next to its siblings. */
static void greedy(struct packer *p, const unsigned *order, unsigned n_order, int (*assign)[4])
{
        for (unsigned oi = 0; oi < n_order; oi++) {
                unsigned i = order[oi];
                const struct sim_vm *vm = &p->w->vms[i];
                double d = vm_total_demand(vm), b = 0;
                int best = -1;
                double best_room = 0;

                for (unsigned c = 0; c < vm->n_cells; c++)
                        b += (double)vm->cells[c].size_bytes;
                for (unsigned k = 0; k < p->n_cpu_nodes; k++) {
                        int h = p->cpu_nodes[k];
                        double room;
                        if (!fits(p, h, d, b))
                                continue;
                        room = (p->mem_cap[h] - p->mem_used[h] - b) / p->mem_cap[h] +
                               (p->cpu_cap[h] - p->cpu_used[h] - d) / p->cpu_cap[h];
                        if (best < 0 || room < best_room) {
                                best = h;
                                best_room = room;
                        }
                }
                if (best >= 0) {
                        for (unsigned c = 0; c < vm->n_cells; c++)
                                assign[i][c] = best;
                        put(p, best, d, b, +1);
                        continue;
                }
                for (unsigned c = 0; c < vm->n_cells; c++) {
                        double dc = cell_demand(vm, c), bc = (double)vm->cells[c].size_bytes;
                        int pick = -1;
                        unsigned pick_sib = 0;
                        double pick_room = 0;
                        for (unsigned k = 0; k < p->n_cpu_nodes; k++) {
                                int h = p->cpu_nodes[k];
                                unsigned sib = 0;
                                double room;
                                if (!fits(p, h, dc, bc))
                                        continue;
                                for (unsigned g = 0; g < c; g++)
                                        sib += assign[i][g] == h;
                                room = p->mem_cap[h] - p->mem_used[h];
                                if (pick < 0 || sib > pick_sib || (sib == pick_sib && room > pick_room)) {
                                        pick = h;
                                        pick_sib = sib;
                                        pick_room = room;
                                }
                        }
                        assign[i][c] = pick;
                        if (pick >= 0)
                                put(p, pick, dc, bc, +1);
                }
        }
}

struct bnb {
        struct packer *p;
        struct item *items;
        unsigned n_items;
        double *suffix_ub; /* upper bound of the VMs from item k on (VM-aligned) */
        int (*cur)[4];
        int (*best)[4];
        double best_value;
        unsigned long nodes;
        bool aborted;
};

static void bnb_search(struct bnb *b, unsigned k, double done_value)
{
        if (b->aborted)
                return;
        if (++b->nodes > BNB_NODE_LIMIT) {
                b->aborted = true;
                return;
        }
        if (k == b->n_items) {
                if (done_value > b->best_value + 1e-9) {
                        b->best_value = done_value;
                        memcpy(b->best, b->cur, sizeof(int[4]) * b->p->w->n_vms);
                }
                return;
        }
        if (done_value + b->suffix_ub[k] <= b->best_value + 1e-9)
                return;

        const struct item *it = &b->items[k];
        bool last_of_vm = k + 1 == b->n_items || b->items[k + 1].vm != it->vm;
        const struct sim_vm *vm = &b->p->w->vms[it->vm];

        for (int choice = -1; choice < (int)b->p->n_cpu_nodes; choice++) {
                int h = choice < 0 ? -1 : b->p->cpu_nodes[choice];
                double add = 0;
                if (h >= 0 && !fits(b->p, h, it->demand, (double)it->bytes))
                        continue;
                b->cur[it->vm][it->cell] = h;
                if (h >= 0)
                        put(b->p, h, it->demand, (double)it->bytes, +1);
                if (last_of_vm)
                        add = vm_value(vm, b->cur[it->vm]);
                /* Nodes tried in order; -1 (leave out) last would be better for pruning, but first
                 * keeps the loop simple and the limit keeps it bounded. */
                bnb_search(b, k + 1, done_value + add);
                if (h >= 0)
                        put(b->p, h, it->demand, (double)it->bytes, -1);
                b->cur[it->vm][it->cell] = -1;
        }
}

/* Fewest bytes that must move, from where each VM's memory first landed, to give the VM the value it
 * has in the reference assignment: over every assignment of its cells to nodes with CPUs that the
 * VM's own cells fit (CPUs and memory of each node; the other VMs are ignored, so it is a lower
 * bound on the bytes of any placement as good as the reference). */
static uint64_t vm_lower_bound_bytes(const struct packer *p, const struct sim_vm *vm, double target)
{
        unsigned n = vm->n_cells, m = p->n_cpu_nodes, combos = 1;
        uint64_t best = UINT64_MAX;
        double d[4];
        int a[4];

        for (unsigned c = 0; c < n; c++) {
                combos *= m;
                d[c] = cell_demand(vm, c);
        }
        for (unsigned x = 0; x < combos; x++) {
                double cpu[SNAP_NODES_MAX] = {0}, mem[SNAP_NODES_MAX] = {0};
                unsigned y = x;
                uint64_t bytes = 0;
                bool fit = true;

                for (unsigned c = 0; c < n; c++) {
                        a[c] = p->cpu_nodes[y % m];
                        y /= m;
                        cpu[a[c]] += d[c];
                        mem[a[c]] += (double)vm->cells[c].size_bytes;
                        fit = fit && cpu[a[c]] <= p->cpu_cap[a[c]] + 1e-9 && mem[a[c]] <= p->mem_cap[a[c]];
                }
                if (!fit || vm_value(vm, a) + 1e-9 < target)
                        continue;
                for (unsigned c = 0; c < n; c++)
                        bytes += vm->cells[c].size_bytes -
                                 MIN(vm->cells[c].size_bytes, vm->initial_resident[c][a[c]]);
                best = MIN(best, bytes);
        }
        return best == UINT64_MAX ? 0 : best;
}

static int cmp_vm_size_desc(const void *x, const void *y, void *arg)
{
        const struct sim_world *w = arg;
        const struct sim_vm *a = &w->vms[*(const unsigned *)x], *b = &w->vms[*(const unsigned *)y];
        double da = vm_total_demand(a), db = vm_total_demand(b);
        return da > db ? -1 : da < db;
}

int sim_optimum_compute(const struct sim_world *w, const struct policy_params *params,
                        struct sim_optimum *ret)
{
        struct packer p = {.w = w, .n_nodes = w->host.n_nodes};
        _cleanup_free_ unsigned *order = NULL;
        int(*assign)[4] = NULL;
        unsigned n_order = 0, n_items = 0;
        double ub = 0, value = 0, total = 0;
        uint64_t lb = 0;
        int r;

        for (unsigned h = 0; h < w->host.n_nodes; h++) {
                const struct snap_node *nd = &w->host.node[h];
                if (nd->n_cpus == 0)
                        continue;
                p.cpu_nodes[p.n_cpu_nodes++] = (int)h;
                p.cpu_cap[h] = nd->n_cpus * params->imbalance_pct / 100.0;
                p.mem_cap[h] =
                        (double)(nd->mem_total_bytes - MIN(nd->mem_total_bytes, params->mem_reserve_bytes));
        }
        order = calloc(w->n_vms, sizeof(*order));
        assign = calloc(w->n_vms, sizeof(*assign));
        if (!order || !assign) {
                free(assign);
                return -ENOMEM;
        }
        for (unsigned i = 0; i < w->n_vms; i++) {
                for (unsigned c = 0; c < 4; c++)
                        assign[i][c] = -1;
                if (!w->vms[i].active)
                        continue;
                order[n_order++] = i;
                n_items += w->vms[i].n_cells;
                ub += vm_upper_bound(&p, &w->vms[i]);
                total += vm_total_demand(&w->vms[i]);
        }
        qsort_r(order, n_order, sizeof(*order), cmp_vm_size_desc, (void *)w);
        greedy(&p, order, n_order, assign);
        for (unsigned k = 0; k < n_order; k++)
                value += vm_value(&w->vms[order[k]], assign[order[k]]);

        *ret = (struct sim_optimum){.n_vms = w->n_vms, .upper_bound = total > 0 ? ub / total : 1.0};
        ret->exact = value >= ub - 1e-9;

        if (!ret->exact && n_items <= 16) {
                struct bnb b = {.p = &p, .n_items = n_items, .best_value = value};
                struct item *items = calloc(n_items, sizeof(*items));
                double *suffix = calloc(n_items + 1, sizeof(*suffix));
                int(*cur)[4] = calloc(w->n_vms, sizeof(*cur));
                if (items && suffix && cur) {
                        unsigned k = 0;
                        for (unsigned oi = 0; oi < n_order; oi++)
                                for (unsigned c = 0; c < w->vms[order[oi]].n_cells; c++)
                                        items[k++] = (struct item){
                                                .vm = order[oi],
                                                .cell = c,
                                                .demand = cell_demand(&w->vms[order[oi]], c),
                                                .bytes = w->vms[order[oi]].cells[c].size_bytes};
                        for (int q = (int)n_items - 1; q >= 0; q--) {
                                bool first_of_vm = q == 0 || items[q - 1].vm != items[q].vm;
                                suffix[q] = suffix[q + 1] +
                                            (first_of_vm ? vm_upper_bound(&p, &w->vms[items[q].vm]) : 0);
                        }
                        /* Items mid-VM: the bound of their VM is still ahead of them. */
                        for (unsigned q = 0; q < n_items; q++)
                                if (q > 0 && items[q - 1].vm == items[q].vm)
                                        suffix[q] = suffix[q] + vm_upper_bound(&p, &w->vms[items[q].vm]);
                        for (unsigned i = 0; i < w->n_vms; i++)
                                for (unsigned c = 0; c < 4; c++)
                                        cur[i][c] = -1;
                        memset(p.cpu_used, 0, sizeof(p.cpu_used));
                        memset(p.mem_used, 0, sizeof(p.mem_used));
                        b.items = items;
                        b.suffix_ub = suffix;
                        b.cur = cur;
                        b.best = assign;
                        bnb_search(&b, 0, 0);
                        value = b.best_value;
                        ret->exact = !b.aborted;
                }
                free(items);
                free(suffix);
                free(cur);
        }

        for (unsigned k = 0; k < n_order; k++) {
                const struct sim_vm *vm = &w->vms[order[k]];
                lb += vm_lower_bound_bytes(&p, vm, vm_value(vm, assign[order[k]]));
        }
        ret->locality = total > 0 ? value / total : 1.0;
        if (ret->exact)
                ret->upper_bound = ret->locality;
        ret->lower_bound_bytes = lb;
        ret->locality_assign = assign;
        ret->assign = calloc(w->n_vms, sizeof(*ret->assign));
        if (!ret->assign) {
                sim_optimum_done(ret);
                return -ENOMEM;
        }
        r = sim_model_optimum(w, params->mem_reserve_bytes, ret->assign, &ret->throughput,
                              &ret->throughput_exact);
        if (r < 0) {
                sim_optimum_done(ret);
                return r;
        }
        return 0;
}

void sim_optimum_done(struct sim_optimum *o)
{
        if (!o)
                return;
        free(o->assign);
        o->assign = NULL;
        free(o->locality_assign);
        o->locality_assign = NULL;
}
