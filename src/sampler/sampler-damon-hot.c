/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The DAMON sampler's pure part: monitoring attributes for a period, a VM's target ranges, and
 * a range's hotness from the regions overlapping it. */
#include <errno.h>
#include <stdlib.h>

#include "sampler-damon.h"
#include "vnuma/basic/macro.h"

#define HOT_PAGE 4096u

void sampler_damon_attrs(uint64_t period_ns, uint64_t total_chunks, struct damon_attrs *ret)
{
        uint64_t aggr = MIN(UINT64_C(100000), MAX(UINT64_C(10000), period_ns / 1000 / 10));

        *ret = (struct damon_attrs){
                .sample_us = aggr / 20,
                .aggr_us = aggr,
                .update_us = 1000000,
                .min_nr_regions = 10,
                .max_nr_regions = MIN(UINT64_C(1000), MAX(UINT64_C(20), total_chunks)),
        };
}

uint32_t sampler_damon_max_accesses(const struct damon_attrs *a)
{
        uint64_t m = a->sample_us ? a->aggr_us / a->sample_us : 1;

        return (uint32_t)MAX(UINT64_C(1), MIN(m, (uint64_t)DAMON_NR_ACCESSES_MAX));
}

uint64_t damon_range_hotness(const struct damon_region *regions, size_t n, uint64_t start, uint64_t len,
                             uint32_t max_acc)
{
        uint64_t end = start + len;
        unsigned __int128 sum = 0; /* bytes x accesses */
        size_t lo = 0, hi = n;

        if (max_acc == 0 || len == 0)
                return 0;
        /* First region that ends after start. */
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (regions[mid].end <= start)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        for (size_t i = lo; i < n && regions[i].start < end; i++) {
                uint64_t a = MAX(start, regions[i].start), b = MIN(end, regions[i].end);
                uint32_t acc = MIN(regions[i].nr_accesses, max_acc);

                if (a < b)
                        sum += (unsigned __int128)(b - a) * acc;
        }
        {
                unsigned __int128 unit = (unsigned __int128)HOT_PAGE * max_acc;
                unsigned __int128 pages = (sum + unit - 1) / unit;

                return pages > UINT64_MAX ? UINT64_MAX : (uint64_t)pages;
        }
}

static int cmp_range(const void *a, const void *b)
{
        const struct damon_range *x = a, *y = b;

        return x->start < y->start ? -1 : x->start > y->start;
}

int sampler_damon_ranges(const struct guest_model *m, struct damon_range **ret, unsigned *ret_n)
{
        _cleanup_free_ struct damon_range *v = NULL;
        unsigned n = 0, k = 0;

        for (unsigned c = 0; c < m->n_cells; c++)
                n += m->cells[c].n_regions;
        if (n == 0)
                return -EINVAL;
        v = calloc(n, sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (unsigned c = 0; c < m->n_cells; c++)
                for (unsigned i = 0; i < m->cells[c].n_regions; i++) {
                        const struct guest_region *rg = &m->cells[c].regions[i];

                        if (rg->size_bytes == 0 || rg->hva_start % HOT_PAGE || rg->size_bytes % HOT_PAGE ||
                            rg->hva_start > DAMON_ADDRESS_MAX - rg->size_bytes)
                                return -EINVAL;
                        v[k++] = (struct damon_range){rg->hva_start, rg->hva_start + rg->size_bytes};
                }
        qsort(v, n, sizeof(*v), cmp_range);
        k = 0;
        for (unsigned i = 0; i < n; i++) {
                if (k > 0 && v[i].start <= v[k - 1].end)
                        v[k - 1].end = MAX(v[k - 1].end, v[i].end);
                else
                        v[k++] = v[i];
        }
        if (k > DAMON_TARGET_RANGES_MAX)
                return -E2BIG;
        *ret = TAKE_PTR(v);
        *ret_n = k;
        return 0;
}
