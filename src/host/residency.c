/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vnuma/host/residency.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <numa.h>
#include <numaif.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vnuma/basic/macro.h"
#include "vnuma/host/pagemap.h"

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

/* Which pages of [start, start + n * page_size) are present, from pagemap. Never-touched pages
 * then cost 8 bytes of read() instead of a move_pages() lookup, which keeps sparse guests
 * (reserve=off, lazily touched RAM) cheap. */
static int read_present(int fd, uint64_t start, uint64_t n, uint64_t page_size, uint64_t *entries,
                        bool *ret_present)
{
        int r = pagemap_read(fd, start, (size_t)n, page_size, entries);

        if (r < 0)
                return r;
        for (uint64_t i = 0; i < n; i++)
                ret_present[i] = entries[i] & PAGEMAP_PRESENT;
        return 0;
}

/* The node of a page frame: the memory block holding it links to its node in sysfs. Pages are
 * laid out in blocks of 128 MiB or more, so the last block looked up is kept. */
struct pfn_node_cache {
        uint64_t block_bytes; /* 0: not read yet; UINT64_MAX: unavailable */
        uint64_t block;
        int node;
};

static int pfn_node(struct pfn_node_cache *c, uint64_t pfn)
{
        uint64_t block;
        char path[96];
        DIR *d;
        struct dirent *de;
        int node = -ENOENT;

        if (pfn == 0)
                return -ENOENT; /* without CAP_SYS_ADMIN pagemap hides frame numbers */
        if (c->block_bytes == 0) {
                FILE *f = fopen("/sys/devices/system/memory/block_size_bytes", "re");
                unsigned long long v = 0;

                c->block_bytes = f && fscanf(f, "%llx", &v) == 1 && v ? v : UINT64_MAX;
                if (f)
                        fclose(f);
                c->node = -ENOENT;
        }
        if (c->block_bytes == UINT64_MAX)
                return -ENOENT;
        block = pfn * (uint64_t)sysconf(_SC_PAGESIZE) / c->block_bytes;
        if (c->node >= 0 && block == c->block)
                return c->node;
        snprintf(path, sizeof(path), "/sys/devices/system/memory/memory%" PRIu64, block);
        d = opendir(path);
        if (!d)
                return -ENOENT;
        while ((de = readdir(d)))
                if (startswith(de->d_name, "node") && de->d_name[4] >= '0' && de->d_name[4] <= '9') {
                        node = atoi(de->d_name + 4);
                        break;
                }
        closedir(d);
        if (node >= 0) {
                c->block = block;
                c->node = node;
        }
        return node;
}

/* move_pages cannot see every present page. On 6.0-6.4 one that the kernel's NUMA balancing has
 * just made PROT_NONE (to take a hinting fault) answers -ENOENT, like a page never touched, and a
 * page never touched answers -EFAULT there; from 6.5 the PROT_NONE page answers its node
 * (tests/unit/sampler/test-residency-protnone.c asserts both, on 6.1 in the lab and on the build
 * machine's kernel). pagemap tells absent from present, and the frame number tells the node.
 * Without pagemap the kernel's answer stands. */
static int resolve_hidden(int pagemap, struct pfn_node_cache *cache, uint64_t addr, int status)
{
        uint64_t e;
        int node;

        if (pagemap < 0 || pagemap_read(pagemap, addr, 1, (uint64_t)sysconf(_SC_PAGESIZE), &e) < 0)
                return status;
        if (!(e & PAGEMAP_PRESENT))
                return -ENOENT;
        node = pfn_node(cache, e & PAGEMAP_PFN_MASK);
        return node >= 0 ? node : status;
}

int residency_scan(pid_t pid, uint64_t start, uint64_t length, uint64_t page_size, struct residency *acc)
{
        _cleanup_free_ void **pages = NULL;
        _cleanup_free_ int *status = NULL;
        _cleanup_free_ uint64_t *entries = NULL;
        _cleanup_free_ bool *present = NULL;
        _cleanup_close_ int pagemap = -1;
        struct residency r = {};
        struct pfn_node_cache cache = {};
        uint64_t n_pages, done = 0, batch_max;
        char path[64];

        if (page_size == 0 || (page_size & (page_size - 1)) || start % page_size || length % page_size)
                return -EINVAL;
        n_pages = length / page_size;
        batch_max = MIN(n_pages, (uint64_t)RESIDENCY_BATCH_PAGES) + 1;
        pages = malloc(sizeof(void *) * batch_max);
        status = malloc(sizeof(int) * batch_max);
        entries = malloc(sizeof(uint64_t) * batch_max);
        present = malloc(sizeof(bool) * batch_max);
        if (!pages || !status || !entries || !present)
                return -ENOMEM;

        /* Without pagemap (no permission, or no procfs), every page goes through move_pages. */
        snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
        pagemap = open(path, O_RDONLY | O_CLOEXEC);

        /* Pagemap pays off where memory is sparse; on densely populated stretches it is pure
         * overhead, since move_pages reports absent pages (-ENOENT) anyway. Decide per batch
         * from what the previous batch looked like. */
        bool use_pagemap = pagemap >= 0;

        while (done < n_pages) {
                unsigned long batch = (unsigned long)MIN(n_pages - done, (uint64_t)RESIDENCY_BATCH_PAGES);
                unsigned long n = 0;
                uint64_t first = start + done * page_size, absent_before = r.not_present_bytes;

                if (!use_pagemap || read_present(pagemap, first, batch, page_size, entries, present) < 0)
                        memset(present, 1, batch * sizeof(bool));
                for (unsigned long i = 0; i < batch; i++) {
                        if (present[i])
                                pages[n++] = (void *)(uintptr_t)(first + i * page_size);
                        else
                                r.not_present_bytes += page_size;
                }
                /* nodes == NULL: query only, nothing moves. */
                if (n > 0) {
                        if (numa_move_pages(pid, n, pages, NULL, status, 0) < 0)
                                return negative_errno();
                        r.syscalls++;
                        for (unsigned long i = 0; i < n; i++) {
                                if (status[i] == -EFAULT || status[i] == -ENOENT)
                                        status[i] = resolve_hidden(pagemap, &cache,
                                                                   (uint64_t)(uintptr_t)pages[i], status[i]);
                                account(&r, status[i], page_size);
                        }
                }
                /* Skip pagemap while batches are >= 90 % present; resume it when they are not. */
                use_pagemap = pagemap >= 0 && (r.not_present_bytes - absent_before) / page_size * 10 > batch;
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
