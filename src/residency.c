/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vnuma/residency.h"

#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <stdlib.h>

#include "vnuma/macro.h"

static void account(struct residency *r, int status, uint64_t page_size)
{
        if (status >= 0 && status < RESIDENCY_MAX_NODES)
                r->node_bytes[status] += page_size;
        else if (status == -ENOENT)
                r->not_present_bytes += page_size;
        else if (status == -EFAULT)
                r->efault_bytes += page_size;
        else if (status == -EBUSY)
                r->busy_bytes += page_size;
        else if (status == -EACCES)
                r->denied_bytes += page_size;
        else
                r->other_bytes += page_size;
}

int residency_scan(pid_t pid, uint64_t start, uint64_t length, uint64_t page_size, struct residency *acc)
{
        _cleanup_free_ void **pages = NULL;
        _cleanup_free_ int *status = NULL;
        struct residency r = {};
        uint64_t n_pages, done = 0;

        if (page_size == 0 || (page_size & (page_size - 1)) || start % page_size || length % page_size)
                return -EINVAL;
        n_pages = length / page_size;
        pages = malloc(sizeof(void *) * MIN(n_pages, (uint64_t)RESIDENCY_BATCH_PAGES) + 1);
        status = malloc(sizeof(int) * MIN(n_pages, (uint64_t)RESIDENCY_BATCH_PAGES) + 1);
        if (!pages || !status)
                return -ENOMEM;

        while (done < n_pages) {
                unsigned long batch = (unsigned long)MIN(n_pages - done, (uint64_t)RESIDENCY_BATCH_PAGES);

                for (unsigned long i = 0; i < batch; i++)
                        pages[i] = (void *)(uintptr_t)(start + (done + i) * page_size);
                /* nodes == NULL: query only, nothing moves. */
                if (numa_move_pages(pid, batch, pages, NULL, status, 0) < 0)
                        return negative_errno();
                r.syscalls++;
                for (unsigned long i = 0; i < batch; i++)
                        account(&r, status[i], page_size);
                done += batch;
        }
        r.scanned_pages = n_pages;
        residency_add(acc, &r);
        return 0;
}

uint64_t residency_present_bytes(const struct residency *r)
{
        uint64_t sum = 0;

        for (int i = 0; i < RESIDENCY_MAX_NODES; i++)
                sum += r->node_bytes[i];
        return sum;
}

void residency_add(struct residency *dst, const struct residency *src)
{
        for (int i = 0; i < RESIDENCY_MAX_NODES; i++)
                dst->node_bytes[i] += src->node_bytes[i];
        dst->not_present_bytes += src->not_present_bytes;
        dst->efault_bytes += src->efault_bytes;
        dst->busy_bytes += src->busy_bytes;
        dst->denied_bytes += src->denied_bytes;
        dst->other_bytes += src->other_bytes;
        dst->scanned_pages += src->scanned_pages;
        dst->syscalls += src->syscalls;
}
