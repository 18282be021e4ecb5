/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Byte budgets per period: one per VM, one host-wide. */
#include "vnuma/policy-rules.h"

uint64_t rule_budget_for_period(uint64_t rate, uint64_t period_ns)
{
        /* rate [B/s] * period [ns] / 1e9, computed without overflow for rates up to ~16 EiB/s. */
        return (uint64_t)((long double)rate * (long double)period_ns / 1e9L);
}

uint64_t rule_budget_available(const struct policy_state *st, const struct vm_state *vs)
{
        return MIN(vs->budget_left, st->ledger.host_budget_left);
}

void rule_budget_charge(struct policy_state *st, struct vm_state *vs, uint64_t bytes)
{
        vs->budget_left -= MIN(bytes, vs->budget_left);
        st->ledger.host_budget_left -= MIN(bytes, st->ledger.host_budget_left);
}
