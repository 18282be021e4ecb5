/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The systemd units whose AllowedCPUs=/AllowedMemoryNodes= vnumad set, and lifting them again.
 *
 * Before vnumad restricts a unit it writes what it sets to STATE_DIR/UNIT; the record goes once
 * the restriction is lifted. A lift that fails stays queued and is tried again every period
 * (actuator_undo_run); the first run of a daemon queues the records an earlier run left behind,
 * so a restart does not leave a VM confined. A lift happens only while the unit still has exactly
 * what vnumad set: a value someone changed since is theirs. Called by actuator-policy.c and
 * actuator.c; uses actuator-state.h. */

#include "actuator-state.h"

struct actuator_undo {
        char *unit;
        struct idset cpus, mems; /* what vnumad set */
        pid_t pid;               /* whose thread affinities to keep across the change; 0: none */
        unsigned tries;
};

int actuator_unit_record(struct actuator *a, const char *unit, const struct idset *cpus,
                         const struct idset *mems);
void actuator_unit_unrecord(struct actuator *a, const char *unit);

/* a->unit_set, keeping the CPU affinity of pid's threads: a cpuset change resets it on kernels
 * before 6.2, and the pins are vnumad's (or the admin's), not the unit's. */
int actuator_unit_set(struct actuator *a, pid_t pid, const char *unit, const struct idset *cpus,
                      const struct idset *mems, char **ret_error);

/* Queues a lift (replacing one queued for the same unit). */
int actuator_undo_add(struct actuator *a, const char *unit, const struct idset *cpus,
                      const struct idset *mems, pid_t pid);
/* vnumad restricts the unit again: a queued lift would undo that. */
void actuator_undo_cancel(struct actuator *a, const char *unit);
/* Tries every queued lift; returns how many remain. *ret_message (may be NULL) gets a line worth
 * logging at warning level about a failure (on the first failed try, then the 2nd, 4th, 8th...),
 * or stays untouched. */
int actuator_undo_run(struct actuator *a, char **ret_message);
void actuator_undo_free(struct actuator *a);
