/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Swapping two cells when the preferred node is full (task_numa_compare). */
#include "vnuma/policies/policy-rules.h"

long rule_swap_improvement(const uint64_t *p_stat, const uint64_t *cur_stat, unsigned n_nodes, int src,
                           int dst, int cur_pref)
{
        long taskimp = rule_weight(p_stat, n_nodes, dst) - rule_weight(p_stat, n_nodes, src);
        long imp = taskimp + rule_weight(cur_stat, n_nodes, src) - rule_weight(cur_stat, n_nodes, dst);

        /* cur already sits where it wants to be: moving it away costs a little. */
        if (cur_pref == dst)
                imp -= imp / 16;
        /* cur wants to go where p comes from: the swap helps both. */
        if (cur_pref == src)
                imp += imp / 8;
        return imp;
}

bool rule_swap_accept(long imp, long best_imp)
{
        return imp >= RULE_SMALLIMP && imp > best_imp + RULE_SMALLIMP / 2;
}
