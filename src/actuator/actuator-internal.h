/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Inside the actuator: its state, and one handler per action type. Tests include this to reach
 * the sched_setaffinity seam. */

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

static inline bool actuator_dry(const struct actuator *a)
{
        return a->kind == ACTUATOR_DRY_RUN;
}

/* Each handler writes one line saying what it did (or, dry, would do) into line, and returns
 * like actuator_apply. */
int actuator_pin(struct actuator *a, const struct action *act, const struct guest_model *m,
                 struct actuator_result *res, char *line, size_t size);
int actuator_migrate(struct actuator *a, const struct action *act, const struct guest_model *m,
                     struct actuator_result *res, char *line, size_t size);
int actuator_region_policy(struct actuator *a, const struct snapshot *s, const struct action *act,
                           const struct actuator_vm *vm, struct actuator_result *res, char *line,
                           size_t size);

/* Drops the state of one VM (no I/O). */
void actuator_vm_state_done(struct actuator_vm_state *st);
