/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Small planning helpers for the simulator's baselines (they use only the public model). */

#include "vnuma/model/plan.h"
#include "vnuma/model/snapshot.h"
#include "vnuma/policies/policy.h"

/* Pins the vCPUs of cell (or of the whole VM when cell < 0) to the CPUs of mask, if any is outside. */
int baseline_pin(const struct snapshot *s, unsigned vi, int cell, nodemask_t mask, struct plan *out,
                 const char *why);
/* Moves chunks of cell whose node differs from dest(chunk) hottest first within the budgets.
 * dest returns -1 to leave a chunk alone. */
int baseline_migrate(const struct snapshot *s, unsigned vi, struct policy_state *st, struct vm_state *vs,
                     int (*dest)(const struct snapshot *s, unsigned vi, unsigned cell,
                                 const struct snap_chunk *ch, const void *arg),
                     const void *arg, struct plan *out, const char *why);
