/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Inside the actuator: one handler per action type, called by actuator_apply. Tests include this
 * to reach the sched_setaffinity seam of struct actuator (actuator-state.h). */

#include "actuator-state.h"

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
