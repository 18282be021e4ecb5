/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Baseline "none": first touch and the scheduler, nothing else. */
#include "vnuma/sim/sim.h"

static int none_plan_vm(const struct snapshot *s, unsigned vi, struct policy_state *st, struct vm_state *vs,
                        struct plan *out)
{
        return 0;
}

const struct policy_ops sim_baseline_none = {.name = "none", .plan_vm = none_plan_vm};
