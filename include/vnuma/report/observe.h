/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One measurement of a VM: residency of every cell and the placement of every thread.
 * Readers only; nothing here changes the guest. */

#include "vnuma/host/proc-task.h"
#include "vnuma/host/residency.h"
#include "vnuma/host/topology.h"
#include "vnuma/model/guest.h"
#include "vnuma/report/locality.h"

struct thread_observation {
        struct task_placement placement;
        int host_node; /* node of placement.last_cpu, -1 if unknown */
        bool gone;     /* exited before it could be read */
};

struct cell_observation {
        struct residency residency;
        struct locality locality;
};

struct vm_observation {
        const struct guest_model *model;    /* borrowed */
        struct cell_observation *cells;     /* parallel to model->cells */
        struct thread_observation *vcpus;   /* parallel to model->vcpus */
        struct thread_observation *threads; /* parallel to model->threads */
        struct locality total;
};

/* Reads the placement of every thread and scans the residency of all of the guest's RAM:
 * O(guest RAM), for one-shot tools (vnumactl show --qmp). */
int vm_observe(const struct guest_model *m, const struct host_topology *topo, const char *procfs_root,
               struct vm_observation **ret);
/* The same with the residency of each cell given (m->n_cells entries, e.g. from the last
 * period's snapshot): only the threads are read, O(threads). */
int vm_observe_with_residency(const struct guest_model *m, const struct host_topology *topo,
                              const char *procfs_root, const struct residency *cell_residency,
                              struct vm_observation **ret);
void vm_observation_free(struct vm_observation *o);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct vm_observation *, vm_observation_free);
