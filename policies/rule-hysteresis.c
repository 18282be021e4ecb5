/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hysteresis: a stable home changes only for a clearly and persistently better node. */
#include "vnuma/policies/policy-rules.h"

bool rule_hysteresis(const struct policy_params *p, int home, uint64_t home_score, int challenger,
                     uint64_t challenger_score, int *candidate, unsigned *candidate_periods)
{
        if (home < 0) {
                /* Nothing to protect yet. */
                *candidate = -1;
                *candidate_periods = 0;
                return challenger >= 0;
        }
        if (challenger < 0 || challenger == home ||
            (double)challenger_score * 100.0 < (double)home_score * p->hysteresis_pct) {
                *candidate = -1;
                *candidate_periods = 0;
                return false;
        }
        if (*candidate == challenger)
                (*candidate_periods)++;
        else {
                *candidate = challenger;
                *candidate_periods = 1;
        }
        if (*candidate_periods < p->hysteresis_periods)
                return false;
        *candidate = -1;
        *candidate_periods = 0;
        return true;
}
