/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Allocation and read-only queries of the snapshot model. */
#include "vnuma/model/snapshot.h"

#include <errno.h>
#include <stdlib.h>

int snapshot_new(unsigned n_vms, struct snapshot **ret)
{
        _cleanup_free_ struct snapshot *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        if (n_vms > 0) {
                s->vms = calloc(n_vms, sizeof(*s->vms));
                if (!s->vms)
                        return -ENOMEM;
        }
        s->n_vms = n_vms;
        for (unsigned i = 0; i < n_vms; i++) {
                vm_policy_init(&s->vms[i].policy);
                s->vms[i].emulator_node = -1;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

int snapshot_vm_alloc(struct snap_vm *vm, unsigned n_cells, unsigned n_vcpus)
{
        struct snap_cell *cells = NULL;
        struct snap_vcpu *vcpus = NULL;

        if (vm->cells || vm->vcpus)
                return -EBUSY;
        if (n_cells > 0 && !(cells = calloc(n_cells, sizeof(*cells))))
                return -ENOMEM;
        if (n_vcpus > 0 && !(vcpus = calloc(n_vcpus, sizeof(*vcpus)))) {
                free(cells);
                return -ENOMEM;
        }
        for (unsigned i = 0; i < n_cells; i++)
                cells[i].id = i;
        for (unsigned i = 0; i < n_vcpus; i++)
                vcpus[i] = (struct snap_vcpu){.index = i, .node = -1};
        vm->cells = cells;
        vm->n_cells = n_cells;
        vm->vcpus = vcpus;
        vm->n_vcpus = n_vcpus;
        return 0;
}

int snapshot_cell_alloc_chunks(struct snap_cell *cell, unsigned n_chunks, struct snap_chunk **ret)
{
        struct snap_chunk *chunks;

        if (cell->chunks)
                return -EBUSY;
        chunks = calloc(n_chunks ? n_chunks : 1, sizeof(*chunks));
        if (!chunks)
                return -ENOMEM;
        cell->chunks = chunks;
        cell->n_chunks = n_chunks;
        *ret = chunks;
        return 0;
}

struct snapshot *snapshot_free(struct snapshot *s)
{
        if (!s)
                return NULL;
        for (unsigned i = 0; i < s->n_vms; i++) {
                struct snap_vm *vm = &s->vms[i];
                for (unsigned c = 0; c < vm->n_cells; c++)
                        free((void *)vm->cells[c].chunks);
                free(vm->cells);
                free(vm->vcpus);
        }
        free(s->vms);
        free(s);
        return NULL;
}

uint64_t snap_cell_present_bytes(const struct snap_cell *c)
{
        uint64_t sum = 0;
        for (unsigned h = 0; h < SNAP_NODES_MAX; h++)
                sum += c->resident_bytes[h];
        return sum;
}

uint64_t snap_cell_bytes_on(const struct snap_cell *c, unsigned n_nodes, nodemask_t mask)
{
        uint64_t sum = 0;
        for (unsigned h = 0; h < n_nodes; h++)
                if (NODEMASK_TEST(mask, h))
                        sum += c->resident_bytes[h];
        return sum;
}

uint64_t snap_vm_size_bytes(const struct snap_vm *vm)
{
        uint64_t sum = 0;
        for (unsigned c = 0; c < vm->n_cells; c++)
                sum += vm->cells[c].size_bytes;
        return sum;
}

double snap_vcpu_demand(const struct snapshot *s, const struct snap_vcpu *v)
{
        if (s->period_ns == 0)
                return 0;
        return MIN((double)(v->runtime_ns + v->wait_ns) / (double)s->period_ns, 1.0);
}

double snap_cell_cpu_demand(const struct snapshot *s, const struct snap_vm *vm, unsigned cell)
{
        double demand = 0;

        for (unsigned i = 0; i < vm->n_vcpus; i++)
                if (vm->vcpus[i].cell == cell)
                        demand += snap_vcpu_demand(s, &vm->vcpus[i]);
        return demand;
}

int snap_host_node_pos(const struct snap_host *h, int node_id)
{
        for (unsigned i = 0; i < h->n_nodes; i++)
                if (h->node[i].id == node_id)
                        return (int)i;
        return -ENOENT;
}

nodemask_t snap_host_mask_of_ids(const struct snap_host *h, const struct idset *ids)
{
        nodemask_t mask = 0;
        bool all = !ids || idset_is_empty(ids);

        for (unsigned i = 0; i < h->n_nodes; i++)
                if (all || idset_test(ids, h->node[i].id))
                        mask |= NODEMASK_BIT(i);
        return mask;
}

nodemask_t snap_host_cpu_nodes(const struct snap_host *h)
{
        nodemask_t mask = 0;
        for (unsigned i = 0; i < h->n_nodes; i++)
                if (h->node[i].n_cpus > 0)
                        mask |= NODEMASK_BIT(i);
        return mask;
}

int snap_host_nearest_cpu_node(const struct snap_host *h, int pos)
{
        int best = -ENOENT;

        if (pos < 0 || (unsigned)pos >= h->n_nodes)
                return -EINVAL;
        if (h->node[pos].n_cpus > 0)
                return pos;
        for (unsigned i = 0; i < h->n_nodes; i++) {
                if (h->node[i].n_cpus == 0)
                        continue;
                if (best < 0 || h->distance[pos][i] < h->distance[pos][best])
                        best = (int)i;
        }
        return best;
}
