/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Adaptive scan period (update_task_scan_period): scan less while memory is local, more when
 * locality drops. */
#include "vnuma/policies/policy-rules.h"

unsigned rule_scan_period(const struct policy_params *p, unsigned current, unsigned local_pct)
{
        unsigned lo = p->scan_period_min ? p->scan_period_min : 1;
        unsigned hi = p->scan_period_max > lo ? p->scan_period_max : lo;

        if (current < lo)
                current = lo;
        if (local_pct >= p->local_threshold_pct)
                current = current + 1; /* slow, linear lengthening */
        else
                current = current / 2; /* quick reaction */
        if (current < lo)
                current = lo;
        if (current > hi)
                current = hi;
        return current;
}
