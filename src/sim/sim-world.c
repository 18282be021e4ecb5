/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The simulated world: host generation, VMs with cells, first touch, a simple scheduler, phases,
 * arrivals and departures. */
#include "vnuma/sim/sim.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "sim-internal.h"
#include "sim-rng.h"

void sim_config_init(struct sim_config *c)
{
        *c = (struct sim_config){
                .n_nodes = 2,
                .n_vms = 10,
                .seed = 1,
                .periods = 80,
                .mem_load = 0.6,
                .cpu_load = 0.6,
        };
}

static void vm_free_parts(struct sim_vm *vm)
{
        for (unsigned c = 0; c < vm->n_cells; c++)
                free(vm->cells[c].chunks);
        free(vm->cells);
        free(vm->vcpus);
}

struct sim_world *sim_world_free(struct sim_world *w)
{
        if (!w)
                return NULL;
        for (unsigned i = 0; i < w->n_vms; i++)
                vm_free_parts(&w->vms[i]);
        free(w->vms);
        free(w->active_map);
        free(w);
        return NULL;
}

double sim_node_load(const struct sim_world *w, int node)
{
        double busy = node >= 0 && (unsigned)node < w->host.n_nodes ? w->other_load[node] : 0;

        for (unsigned i = 0; i < w->n_vms; i++) {
                const struct sim_vm *vm = &w->vms[i];
                if (!vm->active)
                        continue;
                for (unsigned v = 0; v < vm->n_vcpus; v++)
                        if (vm->vcpus[v].node == node)
                                busy += vm->vcpus[v].busy;
        }
        return busy;
}

int sim_least_loaded(const struct sim_world *w, nodemask_t allowed, const double *load)
{
        int best = -1;
        double best_ratio = 0;

        for (unsigned h = 0; h < w->host.n_nodes; h++) {
                double ratio;
                if (w->host.node[h].n_cpus == 0 || (allowed && !NODEMASK_TEST(allowed, h)))
                        continue;
                ratio = load[h] / w->host.node[h].n_cpus;
                if (best < 0 || ratio < best_ratio - 1e-12) {
                        best = (int)h;
                        best_ratio = ratio;
                }
        }
        return best;
}

uint64_t sim_node_free(const struct sim_world *w, int node)
{
        uint64_t total = w->host.node[node].mem_total_bytes;
        return total > w->mem_used[node] ? total - w->mem_used[node] : 0;
}

/* Where memory touched from `node` lands: there if it has room, else the nearest node that has. */
static int first_touch_node(const struct sim_world *w, int node)
{
        int best = -1;

        if (sim_node_free(w, node) >= SIM_CHUNK_BYTES)
                return node;
        for (unsigned h = 0; h < w->host.n_nodes; h++) {
                if (sim_node_free(w, (int)h) < SIM_CHUNK_BYTES)
                        continue;
                if (best < 0 || w->host.distance[node][h] < w->host.distance[node][best])
                        best = (int)h;
        }
        return best;
}

static void vm_arrive(struct sim_world *w, struct sim_vm *vm)
{
        double load[SNAP_NODES_MAX];

        for (unsigned h = 0; h < w->host.n_nodes; h++)
                load[h] = sim_node_load(w, (int)h);
        vm->active = true;
        /* The scheduler spreads the new threads over the least-loaded nodes, blind to cells. */
        for (unsigned v = 0; v < vm->n_vcpus; v++) {
                struct sim_vcpu *vc = &vm->vcpus[v];
                vc->node = sim_least_loaded(w, 0, load);
                vc->allowed = 0;
                vc->left_node = -1;
                load[vc->node] += vc->busy;
        }
        vm->emulator_node = vm->vcpus[0].node;
        /* First touch: most memory by the cell's own vCPUs, some at boot by vCPU 0. */
        for (unsigned c = 0; c < vm->n_cells; c++) {
                struct sim_cell *cell = &vm->cells[c];
                unsigned first = 0, count = 0;

                for (unsigned v = 0; v < vm->n_vcpus; v++)
                        if (vm->vcpus[v].cell == c) {
                                if (count++ == 0)
                                        first = v;
                        }
                for (unsigned k = 0; k < cell->n_chunks; k++) {
                        struct sim_chunk *ch = &cell->chunks[k];
                        unsigned toucher = sim_rng_unit(&vm->rng) < 0.3
                                                   ? 0
                                                   : first + sim_rng_range(&vm->rng, 0, count - 1);
                        int node = first_touch_node(w, vm->vcpus[toucher].node);

                        ch->node = (int8_t)node;
                        ch->left_node = -1;
                        ch->moved_period = UINT32_MAX;
                        if (node >= 0) {
                                w->mem_used[node] += SIM_CHUNK_BYTES;
                                if (c < 4)
                                        vm->initial_resident[c][node] += SIM_CHUNK_BYTES;
                        }
                }
        }
}

static void vm_leave(struct sim_world *w, struct sim_vm *vm)
{
        for (unsigned c = 0; c < vm->n_cells; c++)
                for (unsigned k = 0; k < vm->cells[c].n_chunks; k++) {
                        struct sim_chunk *ch = &vm->cells[c].chunks[k];
                        if (ch->node >= 0)
                                w->mem_used[ch->node] -= SIM_CHUNK_BYTES;
                        ch->node = -1;
                }
        vm->active = false;
}

static uint32_t draw_hotness(uint64_t *rng)
{
        double u = sim_rng_unit(rng);
        /* Skewed: a few hot chunks, many lukewarm ones. */
        return 1 + (uint32_t)(u * u * u * 100.0);
}

static int vm_generate(struct sim_world *w, struct sim_vm *vm, uint64_t id)
{
        static const unsigned cell_choices[] = {1, 1, 2, 2, 4};
        const struct sim_config *cfg = &w->cfg;
        unsigned per_cell[4], n_vcpus = 0;

        *vm = (struct sim_vm){.id = id, .leave = UINT32_MAX, .phase_at = UINT32_MAX};
        vm->rng = sim_rng_next(&w->rng);
        vm_policy_init(&vm->policy);
        vm->n_cells = cfg->cells ? MIN(cfg->cells, 4u) : cell_choices[sim_rng_range(&w->rng, 0, 4)];
        vm->numa_aware = vm->n_cells == 1 || sim_rng_unit(&w->rng) < 0.7;
        vm->own = vm->n_cells == 1 ? 1.0 : vm->numa_aware ? 0.9 : 1.0 / vm->n_cells;
        for (unsigned c = 0; c < vm->n_cells; c++) {
                per_cell[c] = sim_rng_range(&w->rng, 1, 4);
                n_vcpus += per_cell[c];
        }
        vm->cells = calloc(vm->n_cells, sizeof(*vm->cells));
        vm->vcpus = calloc(n_vcpus, sizeof(*vm->vcpus));
        if (!vm->cells || !vm->vcpus)
                return -ENOMEM;
        vm->n_vcpus = n_vcpus;
        for (unsigned c = 0, v = 0; c < vm->n_cells; c++) {
                struct sim_cell *cell = &vm->cells[c];

                cell->n_chunks = sim_rng_range(&w->rng, 4, 32);
                cell->size_bytes = cell->n_chunks * SIM_CHUNK_BYTES;
                cell->chunks = calloc(cell->n_chunks, sizeof(*cell->chunks));
                if (!cell->chunks)
                        return -ENOMEM;
                for (unsigned k = 0; k < cell->n_chunks; k++)
                        cell->chunks[k] = (struct sim_chunk){.node = -1,
                                                             .left_node = -1,
                                                             .hot = draw_hotness(&w->rng),
                                                             .moved_period = UINT32_MAX};
                for (unsigned i = 0; i < per_cell[c]; i++, v++)
                        vm->vcpus[v] = (struct sim_vcpu){.cell = c,
                                                         .node = -1,
                                                         .left_node = -1,
                                                         .busy = 0.3 + 0.7 * sim_rng_unit(&w->rng)};
        }
        if (cfg->dynamic) {
                if (sim_rng_unit(&w->rng) < 0.2)
                        vm->arrive = sim_rng_range(&w->rng, 5, MAX(cfg->periods / 3, 6u));
                if (sim_rng_unit(&w->rng) < 0.1)
                        vm->leave = sim_rng_range(&w->rng, cfg->periods / 2, cfg->periods * 3 / 4);
                if (sim_rng_unit(&w->rng) < 0.3)
                        vm->phase_at = sim_rng_range(&w->rng, cfg->periods / 3, cfg->periods / 2);
        }
        return 0;
}

static void host_generate(struct sim_world *w)
{
        const struct sim_config *cfg = &w->cfg;
        struct snap_host *h = &w->host;
        unsigned n = cfg->n_nodes, n_cpu_nodes;
        bool sparse = sim_rng_next(&w->rng) & 1;
        bool cpuless = n >= 4 && sim_rng_range(&w->rng, 0, 2) == 0;
        uint64_t total_mem = 0, node_mem;
        double demand = 0;
        unsigned cpus, cpu_id = 0;

        for (unsigned i = 0; i < w->n_vms; i++) {
                for (unsigned c = 0; c < w->vms[i].n_cells; c++)
                        total_mem += w->vms[i].cells[c].size_bytes;
                for (unsigned v = 0; v < w->vms[i].n_vcpus; v++)
                        demand += w->vms[i].vcpus[v].busy;
        }
        n_cpu_nodes = cpuless ? n - 1 : n;
        /* Memory and CPUs are both sized for the nodes that can host a cell whole (the ones with
         * CPUs, which is all the reference placement uses); a CPU-less node is extra capacity. */
        node_mem = (uint64_t)ceil((double)total_mem / (cfg->mem_load * n_cpu_nodes) /
                                  (double)(UINT64_C(1) << 30))
                   << 30;
        node_mem += UINT64_C(1) << 30;
        cpus = (unsigned)ceil(demand / (cfg->cpu_load * n_cpu_nodes));
        cpus = MAX(cpus, 4u);

        h->n_nodes = n;
        for (unsigned i = 0; i < n; i++) {
                struct snap_node *nd = &h->node[i];
                *nd = (struct snap_node){.id = sparse ? (int)(2 * i) : (int)i, .mem_total_bytes = node_mem};
                if (!(cpuless && i == n - 1)) {
                        nd->n_cpus = cpus;
                        for (unsigned k = 0; k < cpus; k++)
                                idset_add(&nd->cpus, (int)cpu_id++);
                }
                for (unsigned j = 0; j < n; j++) {
                        unsigned hops = i > j ? i - j : j - i;
                        h->distance[i][j] =
                                i == j ? 10
                                       : (uint16_t)(16 + 5 * hops +
                                                    (cpuless && (i == n - 1 || j == n - 1) ? 10 : 0));
                }
        }
}

/* Some VMs are larger than any node: 4 cells, each about 35 % of a node's CPUs and of its memory, so
 * the VM needs at least two nodes. Their memory is added on top of the sized host (which grows by
 * their share) so the rest of the memory load is unchanged; CPUs are fitted to the CPU load after
 * (fit_cpus), and a large cell takes less than 35 % when the large VMs would otherwise be more than
 * half of the host's vCPU demand (2 nodes at load 0.5 have one node's worth of demand in all). One
 * per 20 VMs, at least one. */
static int make_large_vms(struct sim_world *w)
{
        const double mem_share = 0.35,
                     fill = 0.9; /* per cell: 35 % of a node's memory; host filled to 90 % */
        unsigned n_large = MAX(1u, w->host.n_nodes / 4), n_cpu_nodes = 0, per_cell, chunks;
        uint64_t node_mem = w->host.node[0].mem_total_bytes;
        double share, rest = 0, cpus;

        if (w->cfg.cells && w->cfg.cells != 4)
                return 0;
        for (unsigned h = 0; h < w->host.n_nodes; h++)
                n_cpu_nodes += w->host.node[h].n_cpus > 0;
        if (n_cpu_nodes == 0)
                return 0;
        /* Grow the nodes so that, after adding the large VMs, the rest keeps its memory load:
         * M' = M / (1 - 4 * share * n_large / (fill * n)). */
        node_mem = (uint64_t)((double)node_mem / (1.0 - 4 * mem_share * n_large / (fill * n_cpu_nodes)));
        node_mem &= ~(SIM_CHUNK_BYTES - 1);
        chunks = MAX(4u, (unsigned)(mem_share * (double)node_mem / SIM_CHUNK_BYTES));
        for (unsigned h = 0; h < w->host.n_nodes; h++)
                w->host.node[h].mem_total_bytes = node_mem;

        /* CPUs per node the host will have (fit_cpus): the other VMs' demand plus 4 * share of a node
         * per large VM, at cpu_load. */
        share = MIN(0.35, w->cfg.cpu_load * n_cpu_nodes / (8.0 * n_large));
        for (unsigned i = 0; i < w->n_vms; i++) {
                bool large = false;
                for (unsigned k = 0; k < n_large; k++)
                        large = large || i == (k * 20) % w->n_vms;
                for (unsigned v = 0; v < w->vms[i].n_vcpus && !large; v++)
                        rest += w->vms[i].vcpus[v].busy;
        }
        cpus = rest / (w->cfg.cpu_load * n_cpu_nodes - 4 * share * n_large);
        per_cell = MAX(1u, (unsigned)lround(share * cpus / 0.9));

        for (unsigned k = 0; k < n_large && k < w->n_vms; k++) {
                struct sim_vm *vm = &w->vms[(k * 20) % w->n_vms];

                for (unsigned c = 0; c < vm->n_cells; c++)
                        free(vm->cells[c].chunks);
                free(vm->cells);
                free(vm->vcpus);
                vm->n_cells = 4;
                vm->numa_aware = true;
                vm->own = 0.9;
                vm->n_vcpus = 4 * per_cell;
                if (vm->n_vcpus > IDSET_MAX)
                        return -E2BIG;
                vm->cells = calloc(4, sizeof(*vm->cells));
                vm->vcpus = calloc(vm->n_vcpus, sizeof(*vm->vcpus));
                if (!vm->cells || !vm->vcpus)
                        return -ENOMEM;
                for (unsigned c = 0; c < 4; c++) {
                        vm->cells[c].n_chunks = chunks;
                        vm->cells[c].size_bytes = chunks * SIM_CHUNK_BYTES;
                        vm->cells[c].chunks = calloc(chunks, sizeof(struct sim_chunk));
                        if (!vm->cells[c].chunks)
                                return -ENOMEM;
                        for (unsigned q = 0; q < chunks; q++)
                                vm->cells[c].chunks[q] = (struct sim_chunk){.node = -1,
                                                                            .left_node = -1,
                                                                            .hot = draw_hotness(&vm->rng),
                                                                            .moved_period = UINT32_MAX};
                }
                for (unsigned v = 0; v < vm->n_vcpus; v++)
                        vm->vcpus[v] = (struct sim_vcpu){
                                .cell = v / per_cell, .node = -1, .left_node = -1, .busy = 0.9};
        }
        return 0;
}

/* CPUs per node so that the vCPU demand of all VMs really is cpu_load times the host's CPUs: the
 * first sizing rounds up and the large VMs fill their own share, both of which drift from it. The
 * host's other work comes on top, as a share of each node's CPUs. */
static void fit_cpus(struct sim_world *w)
{
        unsigned n_cpu_nodes = 0, cpus;
        double demand = 0;
        int next = 0;

        for (unsigned i = 0; i < w->n_vms; i++)
                for (unsigned v = 0; v < w->vms[i].n_vcpus; v++)
                        demand += w->vms[i].vcpus[v].busy;
        for (unsigned h = 0; h < w->host.n_nodes; h++)
                n_cpu_nodes += w->host.node[h].n_cpus > 0;
        if (n_cpu_nodes == 0 || w->cfg.cpu_load <= 0)
                return;
        cpus = MAX(1u, (unsigned)lround(demand / (w->cfg.cpu_load * n_cpu_nodes)));
        for (unsigned h = 0; h < w->host.n_nodes; h++) {
                struct snap_node *nd = &w->host.node[h];
                if (nd->n_cpus == 0)
                        continue;
                nd->n_cpus = cpus;
                nd->cpus = IDSET_EMPTY;
                for (unsigned q = 0; q < cpus && next < IDSET_MAX; q++)
                        idset_add(&nd->cpus, next++);
                w->other_load[h] = w->cfg.other_load * cpus;
        }
}

int sim_world_new(const struct sim_config *cfg, struct sim_world **ret)
{
        _cleanup_(sim_world_freep) struct sim_world *w = calloc(1, sizeof(*w));
        int r;

        if (!w)
                return -ENOMEM;
        if (cfg->n_nodes == 0 || cfg->n_nodes > SNAP_NODES_MAX || cfg->n_vms == 0)
                return -EINVAL;
        w->cfg = *cfg;
        w->rng = cfg->seed * UINT64_C(0x2545F4914F6CDD1D) + cfg->n_nodes * 131 + cfg->n_vms;
        w->vms = calloc(cfg->n_vms, sizeof(*w->vms));
        if (!w->vms)
                return -ENOMEM;
        w->n_vms = cfg->n_vms;
        for (unsigned i = 0; i < w->n_vms; i++) {
                r = vm_generate(w, &w->vms[i], 1000 + i);
                if (r < 0)
                        return r;
        }
        host_generate(w);
        r = make_large_vms(w);
        if (r < 0)
                return r;
        fit_cpus(w);
        w->sched_rng = sim_rng_next(&w->rng);
        w->bandwidth_per_period = (UINT64_C(4) << 30) * w->host.n_nodes;
        for (unsigned i = 0; i < w->n_vms; i++)
                if (w->vms[i].arrive == 0)
                        vm_arrive(w, &w->vms[i]);
        *ret = TAKE_PTR(w);
        return 0;
}

void sim_world_advance(struct sim_world *w)
{
        double load[SNAP_NODES_MAX];

        w->period++;
        w->moved_this_period = 0;
        for (unsigned i = 0; i < w->n_vms; i++) {
                struct sim_vm *vm = &w->vms[i];
                if (vm->active && w->period >= vm->leave)
                        vm_leave(w, vm);
                else if (!vm->active && vm->leave == UINT32_MAX && vm->arrive == w->period)
                        vm_arrive(w, vm);
                else if (!vm->active && vm->leave != UINT32_MAX && vm->arrive == w->period &&
                         w->period < vm->leave)
                        vm_arrive(w, vm);
                if (vm->active && w->period == vm->phase_at) {
                        /* A new phase: a different hot set, different vCPU demand. */
                        for (unsigned c = 0; c < vm->n_cells; c++)
                                for (unsigned k = 0; k < vm->cells[c].n_chunks; k++)
                                        vm->cells[c].chunks[k].hot = draw_hotness(&vm->rng);
                        for (unsigned v = 0; v < vm->n_vcpus; v++)
                                vm->vcpus[v].busy = 0.3 + 0.7 * sim_rng_unit(&vm->rng);
                }
        }

        /* The scheduler: pinned threads stay inside their mask; free ones are balanced now and then. */
        for (unsigned h = 0; h < w->host.n_nodes; h++)
                load[h] = sim_node_load(w, (int)h);
        for (unsigned i = 0; i < w->n_vms; i++) {
                struct sim_vm *vm = &w->vms[i];
                if (!vm->active)
                        continue;
                for (unsigned v = 0; v < vm->n_vcpus; v++) {
                        struct sim_vcpu *vc = &vm->vcpus[v];
                        int to = -1;

                        if (vc->allowed) {
                                if (!NODEMASK_TEST(vc->allowed, vc->node))
                                        to = sim_least_loaded(w, vc->allowed, load);
                        } else if (sim_rng_unit(&w->sched_rng) < 0.05) {
                                int best = sim_least_loaded(w, 0, load);
                                if (best >= 0 && load[vc->node] / w->host.node[vc->node].n_cpus >
                                                         load[best] / w->host.node[best].n_cpus + 0.25)
                                        to = best;
                        }
                        if (to >= 0 && to != vc->node) {
                                load[vc->node] -= vc->busy;
                                load[to] += vc->busy;
                                vc->node = to;
                        }
                }
        }
}

uint64_t sim_vm_bytes_on(const struct sim_vm *vm, unsigned cell, int node)
{
        uint64_t b = 0;
        for (unsigned k = 0; k < vm->cells[cell].n_chunks; k++)
                if (vm->cells[cell].chunks[k].node == node)
                        b += SIM_CHUNK_BYTES;
        return b;
}

void sim_vm_hot_fractions(const struct sim_world *w, const struct sim_vm *vm, double (*frac)[SNAP_NODES_MAX],
                          bool count_transit)
{
        for (unsigned c = 0; c < vm->n_cells; c++) {
                double total = 0;
                for (unsigned h = 0; h < SNAP_NODES_MAX; h++)
                        frac[c][h] = 0;
                for (unsigned k = 0; k < vm->cells[c].n_chunks; k++) {
                        const struct sim_chunk *ch = &vm->cells[c].chunks[k];
                        total += ch->hot;
                        if (ch->node >= 0 && (count_transit || ch->moved_period != w->period))
                                frac[c][ch->node] += ch->hot;
                }
                for (unsigned h = 0; h < SNAP_NODES_MAX && total > 0; h++)
                        frac[c][h] /= total;
        }
}

/* Share of cell c's vCPU accesses that reach memory on node h. */
double sim_cell_access_share(const struct sim_vm *vm, double (*frac)[SNAP_NODES_MAX], unsigned c, int h)
{
        double other = 0;

        if (vm->n_cells == 1)
                return frac[c][h];
        for (unsigned g = 0; g < vm->n_cells; g++)
                if (g != c)
                        other += frac[g][h];
        return vm->own * frac[c][h] + (1.0 - vm->own) / (vm->n_cells - 1) * other;
}

double sim_world_locality(const struct sim_world *w)
{
        double num = 0, den = 0;

        for (unsigned i = 0; i < w->n_vms; i++) {
                const struct sim_vm *vm = &w->vms[i];
                double frac[4][SNAP_NODES_MAX];

                if (!vm->active)
                        continue;
                /* Memory in transit this period is remote: that is the cost of moving it. */
                sim_vm_hot_fractions(w, vm, frac, false);
                for (unsigned v = 0; v < vm->n_vcpus; v++) {
                        const struct sim_vcpu *vc = &vm->vcpus[v];
                        den += vc->busy;
                        if (vc->node >= 0)
                                num += vc->busy * sim_cell_access_share(vm, frac, vc->cell, vc->node);
                }
        }
        return den > 0 ? num / den : 1.0;
}
