/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The performance model (perf-model.h) applied to the simulated world: the CPU share each node gives
 * its runnable threads, and the work the VMs get done now. */
#include "vnuma/model/perf-model.h"

#include "sim-internal.h"

double sim_node_share(const struct sim_world *w, int node)
{
        if (node < 0 || (unsigned)node >= w->host.n_nodes)
                return 0;
        return perf_cpu_share((double)w->host.node[node].n_cpus, sim_node_load(w, node));
}

/* Per cell, the share of its access weight on each node, memory in transit counted where it was
 * while it was copied (so a move costs what the locality series charges for it). Memory never
 * touched is left out. */
static void speed_fractions(const struct sim_world *w, const struct sim_vm *vm,
                            double (*frac)[SNAP_NODES_MAX])
{
        for (unsigned c = 0; c < vm->n_cells; c++) {
                double total = 0;

                for (unsigned h = 0; h < SNAP_NODES_MAX; h++)
                        frac[c][h] = 0;
                for (unsigned k = 0; k < vm->cells[c].n_chunks; k++) {
                        const struct sim_chunk *ch = &vm->cells[c].chunks[k];
                        int node = ch->moved_period == w->period ? ch->left_node : ch->node;

                        if (node < 0)
                                continue;
                        frac[c][node] += ch->hot;
                        total += ch->hot;
                }
                for (unsigned h = 0; h < SNAP_NODES_MAX && total > 0; h++)
                        frac[c][h] /= total;
        }
}

double sim_world_throughput(const struct sim_world *w)
{
        double demand[SNAP_NODES_MAX], work = 0;

        for (unsigned h = 0; h < w->host.n_nodes; h++)
                demand[h] = sim_node_load(w, (int)h);
        for (unsigned i = 0; i < w->n_vms; i++) {
                const struct sim_vm *vm = &w->vms[i];
                double frac[4][SNAP_NODES_MAX];

                if (!vm->active)
                        continue;
                speed_fractions(w, vm, frac);
                for (unsigned v = 0; v < vm->n_vcpus; v++) {
                        const struct sim_vcpu *vc = &vm->vcpus[v];
                        double acc[SNAP_NODES_MAX] = {0};

                        if (vc->node < 0)
                                continue;
                        /* The vCPU's accesses by node: its own cell's memory and its siblings'. */
                        for (unsigned h = 0; h < w->host.n_nodes; h++)
                                acc[h] = sim_cell_access_share(vm, frac, vc->cell, (int)h);
                        work += perf_cell_work(&w->host, (unsigned)vc->node, demand[vc->node], vc->busy,
                                               acc);
                }
        }
        return work;
}
