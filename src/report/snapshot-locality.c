/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vnuma/report/snapshot-locality.h"

#include <stdlib.h>

static void residency_of(const struct snapshot *s, const struct snap_cell *c, struct residency *ret)
{
        *ret = (struct residency){.not_present_bytes = c->not_present_bytes};
        for (unsigned pos = 0; pos < s->host.n_nodes; pos++) {
                int id = s->host.node[pos].id;
                if (id >= 0 && id < RESIDENCY_MAX_NODES)
                        ret->node_bytes[id] += c->resident_bytes[pos];
        }
}

struct locality snap_cell_locality(const struct snapshot *s, const struct snap_vm *vm, unsigned cell)
{
        const struct snap_cell *c = &vm->cells[cell];
        int nodes[IDSET_MAX];
        size_t n = 0, n_all = 0;
        int all[IDSET_MAX];
        struct residency res;
        int home;

        for (unsigned i = 0; i < vm->n_vcpus && n_all < IDSET_MAX; i++) {
                int pos = vm->vcpus[i].node;
                int id = pos >= 0 && (unsigned)pos < s->host.n_nodes ? s->host.node[pos].id : -1;

                all[n_all++] = id;
                if (vm->vcpus[i].cell == c->id)
                        nodes[n++] = id;
        }
        residency_of(s, c, &res);
        /* A CPU-less cell is used by every vCPU of the VM (see locality.h). */
        home = n ? locality_home_node(nodes, n, &res) : locality_home_node(all, n_all, &res);
        return locality_of_cell(&res, home);
}

struct locality snap_vm_locality(const struct snapshot *s, const struct snap_vm *vm)
{
        struct locality total = {.home_node = -1};

        for (unsigned c = 0; c < vm->n_cells; c++) {
                struct locality l = snap_cell_locality(s, vm, c);
                locality_accumulate(&total, &l);
        }
        return total;
}
