/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Assembling snapshot parts from the sampler's readings: host nodes by position, VM slots,
 * and a cell's residency from its chunk map. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampler-internal.h"

int snapshot_build_host(const struct host_topology *topo, const uint64_t *mem_free, const double *cpu_load,
                        struct snap_host *ret)
{
        struct snap_host h = {};

        if (topo->n_nodes > SNAP_NODES_MAX)
                return -E2BIG;
        h.n_nodes = topo->n_nodes;
        for (unsigned i = 0; i < topo->n_nodes; i++) {
                const struct host_node *n = &topo->nodes[i];

                h.node[i] = (struct snap_node){
                        .id = n->id,
                        .cpus = n->cpus,
                        .n_cpus = (unsigned)idset_count(&n->cpus),
                        .mem_total_bytes = n->mem_total_bytes,
                        .mem_free_bytes = mem_free ? mem_free[i] : n->mem_free_bytes,
                        .cpu_load = cpu_load ? cpu_load[i] : 0,
                };
                for (unsigned j = 0; j < topo->n_nodes; j++) {
                        int d = topo->distance[(size_t)i * topo->n_nodes + j];
                        h.distance[i][j] = (uint16_t)(d > 0 && d <= UINT16_MAX ? d : 0);
                }
        }
        *ret = h;
        return 0;
}

int snapshot_build_vm_begin(struct snap_vm *sv, const struct sampler_vm *in)
{
        const struct guest_model *m = in->model;
        int r;

        r = snapshot_vm_alloc(sv, m->n_cells, m->n_vcpus);
        if (r < 0)
                return r;
        sv->id = in->id;
        (void)snprintf(sv->name, sizeof(sv->name), "%s", in->name ?: (m->name ?: ""));
        sv->policy = in->policy;
        sv->emulator_node = -1;
        for (unsigned c = 0; c < m->n_cells; c++) {
                sv->cells[c].id = (unsigned)m->cells[c].id;
                sv->cells[c].size_bytes = m->cells[c].size_bytes;
        }
        for (unsigned v = 0; v < m->n_vcpus; v++) {
                int cell = guest_model_cell_index(m, m->vcpus[v].cell);

                sv->vcpus[v] = (struct snap_vcpu){
                        .index = (unsigned)m->vcpus[v].index,
                        .cell = cell >= 0 ? (unsigned)cell : 0,
                        .node = -1,
                };
        }
        return 0;
}

int snapshot_node_pos(const struct host_topology *topo, int node_id)
{
        int pos = host_topology_node_index(topo, node_id);
        return pos >= 0 && pos < SNAP_NODES_MAX ? pos : -1;
}

void snapshot_build_cell_residency(struct snap_cell *sc, const struct chunk_map *m,
                                   const struct host_topology *topo)
{
        uint64_t placed = 0;

        memset(sc->resident_bytes, 0, sizeof(sc->resident_bytes));
        for (int id = 0; id < RESIDENCY_MAX_NODES; id++) {
                int pos;

                if (m->node_bytes[id] == 0)
                        continue;
                pos = snapshot_node_pos(topo, id);
                if (pos < 0)
                        continue; /* a node the topology does not know (yet): not present */
                sc->resident_bytes[pos] += m->node_bytes[id];
                placed += m->node_bytes[id];
        }
        sc->chunk_bytes = m->chunk_bytes;
        sc->not_present_bytes = m->size_bytes - placed;
}

void snapshot_vm_discard(struct snap_vm *sv)
{
        for (unsigned c = 0; c < sv->n_cells; c++)
                free((void *)sv->cells[c].chunks);
        free(sv->cells);
        free(sv->vcpus);
        *sv = (struct snap_vm){.emulator_node = -1};
        vm_policy_init(&sv->policy);
}
