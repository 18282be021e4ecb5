/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vnuma/report/observe.h"

#include <stdlib.h>

void vm_observation_free(struct vm_observation *o)
{
        if (!o)
                return;
        free(o->cells);
        free(o->vcpus);
        free(o->threads);
        free(o);
}

static int observe_thread(const struct guest_model *m, const struct host_topology *topo,
                          const char *procfs_root, pid_t tid, struct thread_observation *ret)
{
        int r = proc_task_placement_read(procfs_root, m->pid, tid, &ret->placement);

        if (r == -ENOENT || r == -ESRCH) {
                ret->gone = true;
                ret->host_node = -1;
                return 0;
        }
        if (r < 0)
                return r;
        r = host_topology_node_of_thread(topo, &ret->placement.affinity, ret->placement.last_cpu);
        ret->host_node = r < 0 ? -1 : r;
        return 0;
}

static int observe(const struct guest_model *m, const struct host_topology *topo, const char *procfs_root,
                   const struct residency *cell_residency, struct vm_observation **ret)
{
        _cleanup_(vm_observation_freep) struct vm_observation *o = calloc(1, sizeof(*o));
        _cleanup_free_ int *vcpu_nodes = NULL, *cell_vcpu_nodes = NULL;
        int r;

        if (!o)
                return -ENOMEM;
        o->model = m;
        o->cells = calloc(m->n_cells ?: 1, sizeof(*o->cells));
        o->vcpus = calloc(m->n_vcpus ?: 1, sizeof(*o->vcpus));
        o->threads = calloc(m->n_threads ?: 1, sizeof(*o->threads));
        vcpu_nodes = calloc(m->n_vcpus ?: 1, sizeof(int));
        cell_vcpu_nodes = calloc(m->n_vcpus ?: 1, sizeof(int));
        if (!o->cells || !o->vcpus || !o->threads || !vcpu_nodes || !cell_vcpu_nodes)
                return -ENOMEM;

        for (unsigned i = 0; i < m->n_vcpus; i++) {
                r = observe_thread(m, topo, procfs_root, m->vcpus[i].tid, &o->vcpus[i]);
                if (r < 0)
                        return r;
                vcpu_nodes[i] = o->vcpus[i].host_node;
        }
        for (unsigned i = 0; i < m->n_threads; i++) {
                r = observe_thread(m, topo, procfs_root, m->threads[i].tid, &o->threads[i]);
                if (r < 0)
                        return r;
        }

        for (unsigned c = 0; c < m->n_cells; c++) {
                const struct guest_cell *cell = &m->cells[c];
                struct cell_observation *co = &o->cells[c];
                size_t n = 0;
                int home;

                if (cell_residency)
                        co->residency = cell_residency[c];
                for (unsigned r2 = 0; !cell_residency && r2 < cell->n_regions; r2++) {
                        const struct guest_region *rg = &cell->regions[r2];

                        r = residency_scan(m->pid, rg->hva_start, rg->size_bytes, rg->page_size,
                                           &co->residency);
                        if (r < 0)
                                return r;
                }
                for (unsigned i = 0; i < m->n_vcpus; i++)
                        if (m->vcpus[i].cell == cell->id)
                                cell_vcpu_nodes[n++] = vcpu_nodes[i];
                /* A CPU-less cell is used by every vCPU of the VM (see locality.h). */
                home = n ? locality_home_node(cell_vcpu_nodes, n, &co->residency)
                         : locality_home_node(vcpu_nodes, m->n_vcpus, &co->residency);
                co->locality = locality_of_cell(&co->residency, home);
                locality_accumulate(&o->total, &co->locality);
        }
        o->total.home_node = -1;
        *ret = TAKE_PTR(o);
        return 0;
}

int vm_observe(const struct guest_model *m, const struct host_topology *topo, const char *procfs_root,
               struct vm_observation **ret)
{
        return observe(m, topo, procfs_root, NULL, ret);
}

int vm_observe_with_residency(const struct guest_model *m, const struct host_topology *topo,
                              const char *procfs_root, const struct residency *cell_residency,
                              struct vm_observation **ret)
{
        if (!cell_residency)
                return -EINVAL;
        return observe(m, topo, procfs_root, cell_residency, ret);
}
