/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The actuator's state, shared by actuator.c and its handlers: its settings, the ring of recorded
 * lines, and what region policies left behind per VM. Calls go one way: actuator.c -> the
 * handlers (actuator-pin.c, actuator-migrate.c, actuator-policy.c) -> this file. */

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include "vnuma/actuator/actuator.h"

#define ACTUATOR_LINE_MAX 320

/* Where a VM's region policy can be enforced beyond migration. */
enum actuator_placement {
        PLACEMENT_UNKNOWN, /* not looked at yet */
        PLACEMENT_UNIT,    /* its own systemd unit: AllowedCPUs=/AllowedMemoryNodes= */
        PLACEMENT_NONE,    /* no unit of its own, or no systemd: migration only */
};

/* What a region policy left behind for one VM. */
struct actuator_vm_state {
        uint64_t id;
        pid_t pid;
        enum actuator_placement placement;
        char *unit;    /* PLACEMENT_UNIT: the unit's name */
        bool unit_set; /* vnumad set the unit's properties to set_cpus/set_mems */
        struct idset set_cpus, set_mems;
        bool said;           /* the "migration only" notice was given for this VM */
        unsigned n_cells;    /* as in the model when the state was made */
        int *cell_ids;       /* guest node id of each entry */
        bool *restricted;    /* a bind/interleave policy limits the cell */
        struct idset *nodes; /* its kernel node ids, when restricted */
};

struct actuator {
        enum actuator_kind kind;
        char *procfs_root;
        char *sysfs_root;
        char *state_dir;
        unsigned batch_pages;
        unsigned retries;

        /* sched_setaffinity(2); tests replace it to make a later thread fail. */
        int (*setaffinity)(pid_t tid, const cpu_set_t *mask);
        /* systemd's D-Bus API (cgroup-systemd.h); tests replace them, there is no systemd there. */
        int (*unit_set)(const char *unit, const struct idset *cpus, const struct idset *mems,
                        char **ret_error);
        int (*unit_get)(const char *unit, struct idset *ret_cpus, struct idset *ret_mems, char **ret_error);

        /* Units whose restriction vnumad must still lift (actuator-units.c). */
        size_t n_undo;
        struct actuator_undo *undo;
        bool reconciled; /* the records of an earlier run were read */
        char notice[ACTUATOR_LINE_MAX];

        size_t n_vms;
        struct actuator_vm_state *vms;

        /* Ring of the last record_keep lines. */
        char (*lines)[ACTUATOR_LINE_MAX];
        size_t keep, next, n_kept;
        uint64_t total;
};

/* The state of a VM, made on first use. A model whose cells changed (hotplug) starts over, but
 * keeps what was learned and set of the VM's unit. */
int actuator_vm_state_get(struct actuator *a, uint64_t id, const struct guest_model *m,
                          struct actuator_vm_state **ret);
/* The state of a VM, or NULL when there is none. */
struct actuator_vm_state *actuator_vm_state_find(struct actuator *a, uint64_t id);
/* Drops the state of one VM (no I/O: a unit restriction, if any, is the caller's to lift). */
void actuator_vm_state_remove(struct actuator *a, struct actuator_vm_state *st);
/* Drops the state of every VM (no I/O). */
void actuator_vm_states_free(struct actuator *a);
