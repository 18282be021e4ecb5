/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The policy registry and the planning pass over a whole snapshot. */
#include "vnuma/policies/policy.h"

#include <errno.h>

#include "policy-internal.h"

extern const struct policy_ops policy_auto_ops, policy_strict_ops, policy_preferred_ops,
        policy_interleave_ops, policy_observe_ops, policy_off_ops;

static const struct policy_ops *const policy_table[_VM_POLICY_MODE_MAX] = {
        [VM_POLICY_AUTO] = &policy_auto_ops,           [VM_POLICY_STRICT] = &policy_strict_ops,
        [VM_POLICY_PREFERRED] = &policy_preferred_ops, [VM_POLICY_INTERLEAVE] = &policy_interleave_ops,
        [VM_POLICY_OBSERVE] = &policy_observe_ops,     [VM_POLICY_OFF] = &policy_off_ops,
};

const struct policy_ops *policy_for_mode(enum vm_policy_mode mode)
{
        if (mode < 0 || mode >= _VM_POLICY_MODE_MAX)
                return NULL;
        return policy_table[mode];
}

const struct policy_ops *policy_lookup(const char *name)
{
        int m = vm_policy_mode_from_string(name);
        return m < 0 ? NULL : policy_table[m];
}

int policy_plan(const struct snapshot *s, const struct policy_ops *override, struct policy_state *st,
                struct plan *out)
{
        int r;

        if (s->host.n_nodes == 0 || s->host.n_nodes > SNAP_NODES_MAX)
                return -EINVAL;
        r = policy_state_sync(st, s);
        if (r < 0)
                return r;
        policy_state_begin_period(st, s);
        r = policy_work_prepare(st, s);
        if (r < 0)
                return r;
        if (!override)
                ledger_make_fluid(st, s);

        for (unsigned k = 0; k < s->n_vms; k++) {
                unsigned i = st->work->order[k];
                const struct snap_vm *vm = &s->vms[i];
                const struct policy_ops *ops = policy_for_mode(vm->policy.mode);

                if (!ops)
                        return -EINVAL;
                if (override && vm_policy_mode_acts(vm->policy.mode))
                        ops = override;
                ledger_unfluid_vm(st, s, i); /* its turn: its load is its own again */
                r = ops->plan_vm(s, i, st, &st->vms[i], out);
                if (r < 0)
                        return r;
        }
        return migrate_pool_settle(s, st, out);
}
