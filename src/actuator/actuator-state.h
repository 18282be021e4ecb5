/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The actuator's state, shared by actuator.c and its handlers: its settings, the ring of recorded
 * lines, and what region policies left behind per VM. Calls go one way: actuator.c -> the
 * handlers (actuator-pin.c, actuator-migrate.c, actuator-policy.c) -> this file. */

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include "vnuma/actuator/actuator.h"

#define ACTUATOR_LINE_MAX 256

/* What a region policy left behind for one VM. */
struct actuator_vm_state {
        uint64_t id;
        char *cgroup;        /* the VM's cpuset cgroup once threads were moved into it */
        unsigned n_cells;    /* as in the model when the state was made */
        int *cell_ids;       /* guest node id of each entry */
        bool *restricted;    /* a bind/interleave policy limits the cell */
        struct idset *nodes; /* its kernel node ids, when restricted */
};

struct actuator {
        enum actuator_kind kind;
        char *procfs_root;
        char *sysfs_root;
        char *cgroup_parent;
        unsigned batch_pages;
        unsigned retries;

        /* sched_setaffinity(2); tests replace it to make a later thread fail. */
        int (*setaffinity)(pid_t tid, const cpu_set_t *mask);

        size_t n_vms;
        struct actuator_vm_state *vms;

        /* Ring of the last record_keep lines. */
        char (*lines)[ACTUATOR_LINE_MAX];
        size_t keep, next, n_kept;
        uint64_t total;
};

/* The state of a VM, made on first use. A model whose cells changed (hotplug) starts over, but
 * keeps the cgroup the VM is in. */
int actuator_vm_state_get(struct actuator *a, uint64_t id, const struct guest_model *m,
                          struct actuator_vm_state **ret);
/* The state of a VM, or NULL when there is none. */
struct actuator_vm_state *actuator_vm_state_find(struct actuator *a, uint64_t id);
/* Drops the state of one VM (no I/O: its cgroup, if any, is the caller's to remove). */
void actuator_vm_state_remove(struct actuator *a, struct actuator_vm_state *st);
/* Drops the state of every VM (no I/O). */
void actuator_vm_states_free(struct actuator *a);
