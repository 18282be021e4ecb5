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

int vm_observe(const struct guest_model *m, const struct host_topology *topo, const char *procfs_root,
               struct vm_observation **ret);
void vm_observation_free(struct vm_observation *o);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct vm_observation *, vm_observation_free);
