/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Byte budgets per period: one per VM, one host-wide. */
#include "vnuma/policies/policy-rules.h"

uint64_t rule_budget_for_period(const struct policy_params *p, uint64_t rate, uint64_t period_ns)
{
        if (p->budget_period_max_ns)
                period_ns = MIN(period_ns, p->budget_period_max_ns);
        /* rate [B/s] * period [ns] / 1e9, computed without overflow for rates up to ~16 EiB/s. */
        return (uint64_t)((long double)rate * (long double)period_ns / 1e9L);
}

uint64_t rule_vm_migrate_rate(const struct policy_params *p, const struct snap_vm *vm)
{
        uint64_t size;

        if (vm->policy.migrate_rate)
                return vm->policy.migrate_rate;
        if (p->vm_migrate_rate_max <= p->vm_migrate_rate)
                return p->vm_migrate_rate;
        /* task_scan_min: the whole resident set per second, capped (MAX_SCAN_WINDOW). */
        size = snap_vm_size_bytes(vm);
        return MAX(p->vm_migrate_rate, MIN(size, p->vm_migrate_rate_max));
}

uint64_t rule_budget_available(const struct policy_state *st, const struct vm_state *vs)
{
        return MIN(vs->budget_left, st->ledger.host_budget_left);
}

static void charge(uint64_t *left, uint64_t *debt, uint64_t bytes)
{
        if (bytes > *left)
                *debt += bytes - *left;
        *left -= MIN(bytes, *left);
}

void rule_budget_charge(struct policy_state *st, struct vm_state *vs, uint64_t bytes)
{
        charge(&vs->budget_left, &vs->budget_debt, bytes);
        charge(&st->ledger.host_budget_left, &st->host_budget_debt, bytes);
}

bool rule_budget_allows(uint64_t left, uint64_t full, uint64_t bytes)
{
        return bytes <= left || (full > 0 && left == full && bytes > full);
}

uint64_t rule_budget_after_debt(uint64_t full, uint64_t *debt)
{
        uint64_t paid = MIN(full, *debt);

        *debt -= paid;
        return full - paid;
}
