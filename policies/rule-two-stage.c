/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The two-stage filter (should_numa_migrate_memory): only a chunk seen misplaced at two
 * consecutive scans moves, so one stray access pattern cannot bounce memory around. */
#include "vnuma/policies/policy-rules.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int rule_two_stage_reserve(struct cell_state *cs, uint64_t n_chunk_indexes)
{
        size_t words = (size_t)((n_chunk_indexes + 63) / 64);
        uint64_t *m;

        if (words <= cs->n_seen_words)
                return 0;
        m = realloc(cs->seen_misplaced, words * sizeof(*m));
        if (!m)
                return -ENOMEM;
        memset(m + cs->n_seen_words, 0, (words - cs->n_seen_words) * sizeof(*m));
        cs->seen_misplaced = m;
        cs->n_seen_words = words;
        return 0;
}

void rule_two_stage_clear(struct cell_state *cs)
{
        if (cs->seen_misplaced)
                memset(cs->seen_misplaced, 0, cs->n_seen_words * sizeof(*cs->seen_misplaced));
}
