/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Policies "observe" (measure: statistics are kept for reporting, nothing is planned) and "off"
 * (hands off entirely). */
#include "policy-internal.h"

static int observe_plan_vm(const struct snapshot *s, unsigned vi, struct policy_state *st,
                           struct vm_state *vs, struct plan *out)
{
        const struct snap_vm *vm = &s->vms[vi];
        vm_update_stats(s, vm, vs, snap_host_mask_of_ids(&s->host, &vm->policy.nodes));
        return 0;
}

static int off_plan_vm(const struct snapshot *s, unsigned vi, struct policy_state *st, struct vm_state *vs,
                       struct plan *out)
{
        return 0;
}

const struct policy_ops policy_observe_ops = {
        .name = "observe",
        .plan_vm = observe_plan_vm,
};

const struct policy_ops policy_off_ops = {
        .name = "off",
        .plan_vm = off_plan_vm,
};
