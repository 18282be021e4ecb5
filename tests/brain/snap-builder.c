/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "snap-builder.h"

#include <assert.h>
#include <stdlib.h>

struct snapshot *tb_snapshot(unsigned n_nodes, unsigned cpus_per_node, uint64_t mem_per_node, unsigned n_vms,
                             uint32_t cpuless_mask, bool sparse)
{
        struct snapshot *s;
        int cpu = 0;

        assert(snapshot_new(n_vms, &s) == 0);
        s->period_ns = TB_PERIOD_NS;
        s->host.n_nodes = n_nodes;
        for (unsigned i = 0; i < n_nodes; i++) {
                struct snap_node *n = &s->host.node[i];
                n->id = sparse ? (int)(2 * i) : (int)i;
                n->cpus = IDSET_EMPTY;
                n->n_cpus = (cpuless_mask >> i) & 1 ? 0 : cpus_per_node;
                for (unsigned k = 0; k < n->n_cpus; k++)
                        idset_add(&n->cpus, cpu++);
                n->mem_total_bytes = mem_per_node;
                n->mem_free_bytes = mem_per_node;
                for (unsigned j = 0; j < n_nodes; j++)
                        s->host.distance[i][j] = i == j ? 10 : (uint16_t)(20 + 5 * (i > j ? i - j : j - i));
        }
        return s;
}

void tb_vm(struct snapshot *s, unsigned vi, uint64_t id, unsigned n_cells, unsigned vcpus_per_cell,
           uint64_t cell_bytes, uint64_t chunk_bytes)
{
        struct snap_vm *vm = &s->vms[vi];

        vm->id = id;
        assert(snapshot_vm_alloc(vm, n_cells, n_cells * vcpus_per_cell) == 0);
        for (unsigned i = 0; i < vm->n_vcpus; i++)
                vm->vcpus[i].cell = i / vcpus_per_cell;
        for (unsigned c = 0; c < n_cells; c++) {
                struct snap_cell *cell = &vm->cells[c];
                struct snap_chunk *ch;
                unsigned n = (unsigned)(cell_bytes / chunk_bytes);

                cell->size_bytes = cell_bytes;
                cell->chunk_bytes = chunk_bytes;
                assert(snapshot_cell_alloc_chunks(cell, n, &ch) == 0);
                for (unsigned k = 0; k < n; k++)
                        ch[k] = (struct snap_chunk){
                                .offset = k * chunk_bytes, .bytes = chunk_bytes, .node = -1};
        }
}

void tb_chunk_on(struct snapshot *s, unsigned vi, unsigned cell, unsigned k, int node, uint32_t hotness)
{
        struct snap_chunk *ch = (struct snap_chunk *)&s->vms[vi].cells[cell].chunks[k];
        ch->node = node;
        ch->hotness = hotness;
}

void tb_cell_on(struct snapshot *s, unsigned vi, unsigned cell, int node)
{
        for (unsigned k = 0; k < s->vms[vi].cells[cell].n_chunks; k++)
                tb_chunk_on(s, vi, cell, k, node, 10);
}

void tb_vcpus_on(struct snapshot *s, unsigned vi, unsigned cell, int node, double busy)
{
        struct snap_vm *vm = &s->vms[vi];
        for (unsigned i = 0; i < vm->n_vcpus; i++)
                if (vm->vcpus[i].cell == cell) {
                        vm->vcpus[i].node = node;
                        vm->vcpus[i].runtime_ns = (uint64_t)(busy * (double)s->period_ns);
                }
}

void tb_finish(struct snapshot *s)
{
        unsigned n = s->host.n_nodes;

        for (unsigned i = 0; i < n; i++) {
                s->host.node[i].mem_free_bytes = s->host.node[i].mem_total_bytes;
                s->host.node[i].cpu_load = 0;
        }
        for (unsigned v = 0; v < s->n_vms; v++) {
                struct snap_vm *vm = &s->vms[v];
                for (unsigned c = 0; c < vm->n_cells; c++) {
                        struct snap_cell *cell = &vm->cells[c];
                        for (unsigned h = 0; h < SNAP_NODES_MAX; h++)
                                cell->resident_bytes[h] = cell->access[h] = cell->cpu_ns[h] = 0;
                        cell->not_present_bytes = 0;
                        for (unsigned k = 0; k < cell->n_chunks; k++) {
                                const struct snap_chunk *ch = &cell->chunks[k];
                                if (ch->node < 0) {
                                        cell->not_present_bytes += ch->bytes;
                                        continue;
                                }
                                cell->resident_bytes[ch->node] += ch->bytes;
                                cell->access[ch->node] += ch->hotness;
                                s->host.node[ch->node].mem_free_bytes -= ch->bytes;
                        }
                }
                for (unsigned i = 0; i < vm->n_vcpus; i++) {
                        const struct snap_vcpu *vc = &vm->vcpus[i];
                        if (vc->node < 0)
                                continue;
                        vm->cells[vc->cell].cpu_ns[vc->node] += vc->runtime_ns;
                        s->host.node[vc->node].cpu_load += (double)vc->runtime_ns / (double)s->period_ns;
                }
        }
}

void tb_vcpus_wait(struct snapshot *s, unsigned vi, double wait)
{
        for (unsigned v = 0; v < s->vms[vi].n_vcpus; v++)
                s->vms[vi].vcpus[v].wait_ns = (uint64_t)(wait * (double)s->period_ns);
}
