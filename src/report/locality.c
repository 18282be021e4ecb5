/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vnuma/report/locality.h"

#include <errno.h>

int locality_home_node(const int *vcpu_nodes, size_t n_vcpus, const struct residency *res)
{
        unsigned votes[RESIDENCY_MAX_NODES] = {};
        int best = -1;

        for (size_t i = 0; i < n_vcpus; i++)
                if (vcpu_nodes[i] >= 0 && vcpu_nodes[i] < RESIDENCY_MAX_NODES)
                        votes[vcpu_nodes[i]]++;
        for (int n = 0; n < RESIDENCY_MAX_NODES; n++) {
                if (!votes[n])
                        continue;
                if (best < 0 || votes[n] > votes[best] ||
                    (votes[n] == votes[best] && res && res->node_bytes[n] > res->node_bytes[best]))
                        best = n;
        }
        return best;
}

struct locality locality_of_cell(const struct residency *res, int home_node)
{
        struct locality l = {
                .home_node = home_node,
                .present_bytes = residency_present_bytes(res),
        };

        if (home_node >= 0 && home_node < RESIDENCY_MAX_NODES)
                l.local_bytes = res->node_bytes[home_node];
        return l;
}

void locality_accumulate(struct locality *total, const struct locality *cell)
{
        total->local_bytes += cell->local_bytes;
        total->present_bytes += cell->present_bytes;
}

int locality_ratio(const struct locality *l, double *ret)
{
        if (l->present_bytes == 0)
                return -ENODATA;
        *ret = (double)l->local_bytes / (double)l->present_bytes;
        return 0;
}
