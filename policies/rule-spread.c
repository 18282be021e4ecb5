/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A guest cell larger than any host node: the fewest, closest nodes that hold it. */
#include "vnuma/policies/policy-rules.h"

#define SPREAD_EXHAUSTIVE_MAX 12

static uint64_t sum_over(const uint64_t *v, unsigned n, nodemask_t mask)
{
        uint64_t s = 0;
        for (unsigned i = 0; i < n; i++)
                if (NODEMASK_TEST(mask, i))
                        s += v[i];
        return s;
}

static unsigned distance_from(const struct snap_host *h, int anchor, nodemask_t mask)
{
        unsigned d = 0;
        for (unsigned i = 0; i < h->n_nodes; i++)
                if (NODEMASK_TEST(mask, i))
                        d += anchor >= 0 ? h->distance[anchor][i] : 0;
        return d;
}

nodemask_t rule_spread_nodes(const struct snap_host *h, const uint64_t *usable, int anchor, uint64_t bytes,
                             const uint64_t *resident, nodemask_t allowed)
{
        unsigned n = h->n_nodes;
        nodemask_t best = 0;
        unsigned best_count = 0, best_dist = 0;
        uint64_t best_res = 0;

        if (n == 0)
                return 0;
        if (n > SPREAD_EXHAUSTIVE_MAX) {
                /* Greedy for very large hosts: the anchor, then nearest first. */
                nodemask_t m = 0;
                uint64_t have = 0;
                for (unsigned k = 0; k < n && have < bytes; k++) {
                        int pick = -1;
                        for (unsigned i = 0; i < n; i++) {
                                if (!NODEMASK_TEST(allowed, i) || NODEMASK_TEST(m, i))
                                        continue;
                                if (pick < 0 ||
                                    (anchor >= 0 && h->distance[anchor][i] < h->distance[anchor][pick]))
                                        pick = (int)i;
                        }
                        if (pick < 0)
                                break;
                        m |= NODEMASK_BIT(pick);
                        have += usable[pick];
                }
                return have >= bytes ? m : 0;
        }

        for (nodemask_t m = 1; m < ((nodemask_t)1 << n); m++) {
                unsigned count, dist;
                uint64_t res;

                if ((m & ~allowed) != 0)
                        continue;
                if (sum_over(usable, n, m) < bytes)
                        continue;
                count = (unsigned)__builtin_popcount(m);
                dist = distance_from(h, anchor, m);
                res = sum_over(resident, n, m);
                if (best == 0 || count < best_count || (count == best_count && dist < best_dist) ||
                    (count == best_count && dist == best_dist && res > best_res)) {
                        best = m;
                        best_count = count;
                        best_dist = dist;
                        best_res = res;
                }
        }
        return best;
}
