/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Migrations: a byte range of one guest cell onto one host node, with move_pages(2).
 *
 * move_pages never changes what a page contains: the kernel copies the page to the new node and
 * switches the mapping while the old copy is locked, so a guest running meanwhile sees the same
 * bytes. (The lab tests check this by comparing a stopped guest's cell before and after.) */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <numa.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actuator-internal.h"
#include "vnuma/basic/fileio.h"
#include "vnuma/host/pagemap.h"

/* A status the kernel never writes: the page was not reached (a call that stopped early). */
#define STATUS_UNSET INT32_MIN

struct span {
        uint64_t start; /* host virtual address, page aligned */
        uint64_t n_pages;
        uint64_t page_size;
        int flags; /* for move_pages: from the region's sharing */
};

/* MOVE_ALL (CAP_SYS_NICE) moves a page for every process that maps it; MOVE leaves a page mapped
 * more than once with -EACCES (mm/migrate.c; the kernel answers "already there" before it looks).
 * Only a shared mapping of per-VM memory is moved for all: its other mappers are the VM's own
 * vhost-user backends. A private page mapped elsewhere is a KSM or copy-on-write page of other
 * processes, and a shared file's page cache is the file's (vnumad(8), SHARED BACKENDS). */
static int move_flags(enum region_sharing sharing)
{
        return sharing == REGION_SHARED_MEMORY ? MPOL_MF_MOVE_ALL : MPOL_MF_MOVE;
}

/* [offset, offset+bytes) of the cell as host ranges, widened to whole pages. Cell offsets run over
 * the regions in order. Checks everything before anything is touched. */
static int cell_spans(const struct guest_cell *c, uint64_t offset, uint64_t bytes, struct span **ret,
                      size_t *ret_n)
{
        _cleanup_free_ struct span *spans = NULL;
        uint64_t base = 0, end, total = 0;
        size_t n = 0;

        for (unsigned i = 0; i < c->n_regions; i++) {
                if (c->regions[i].size_bytes > UINT64_MAX - total)
                        return -EINVAL;
                total += c->regions[i].size_bytes;
        }
        if (bytes == 0 || offset > total || bytes > total - offset)
                return -EINVAL;
        end = offset + bytes;
        spans = calloc(MAX(c->n_regions, 1u), sizeof(*spans));
        if (!spans)
                return -ENOMEM;
        for (unsigned i = 0; i < c->n_regions; base += c->regions[i].size_bytes, i++) {
                const struct guest_region *g = &c->regions[i];
                uint64_t ps = g->page_size ?: (uint64_t)sysconf(_SC_PAGESIZE), lo, hi;

                if (end <= base || offset >= base + g->size_bytes)
                        continue;
                if ((ps & (ps - 1)) || g->hva_start == 0 || g->hva_start % ps ||
                    g->hva_start > UINT64_MAX - g->size_bytes)
                        return -EINVAL;
                lo = MAX(offset, base) - base;
                hi = MIN(end, base + g->size_bytes) - base;
                lo -= lo % ps;
                hi = MIN(hi + (ps - hi % ps) % ps, g->size_bytes - g->size_bytes % ps);
                if (hi <= lo)
                        continue;
                spans[n++] = (struct span){
                        .start = g->hva_start + lo,
                        .n_pages = (hi - lo) / ps,
                        .page_size = ps,
                        .flags = move_flags(g->sharing),
                };
        }
        *ret = TAKE_PTR(spans);
        *ret_n = n;
        return 0;
}

struct mover {
        pid_t pid;
        int node;
        unsigned batch;
        unsigned retries;
        void **pages; /* the current batch */
        int *nodes;   /* all = node */
        int *status;  /* per page of the current call */
        void **again; /* pages to retry, and the status that sent them there */
        int *again_status;
        size_t n_again;
        struct actuator_result *res;
        uint64_t page_size;
        int flags;         /* move_pages flags of the current span */
        int pagemap;       /* /proc/PID/pagemap, or -1 */
        uint64_t *entries; /* its entries for the current batch */
        int err;           /* first call that failed as a whole */
};

static bool retryable(int status)
{
        return status == -EBUSY || status == -EAGAIN || status == -ENOMEM || status == STATUS_UNSET;
}

static void count_moved(struct mover *mv, uint64_t n)
{
        mv->res->pages_moved += n;
        mv->res->bytes_moved += n * mv->page_size;
}

/* Submits list[0..n) in calls of at most `per_call` pages; retryable pages go to mv->again. */
static int move_list(struct mover *mv, void **list, size_t n, size_t per_call)
{
        for (size_t off = 0; off < n; off += per_call) {
                unsigned long cnt = (unsigned long)MIN(per_call, n - off);
                long r;

                for (unsigned long j = 0; j < cnt; j++) {
                        mv->nodes[j] = mv->node;
                        mv->status[j] = STATUS_UNSET;
                }
                /* A positive return counts pages not moved, and the kernel stops there: those keep
                 * UNSET. */
                r = numa_move_pages(mv->pid, cnt, list + off, mv->nodes, mv->status, mv->flags);
                if (r < 0) {
                        int e = errno;

                        if (e == ENOMEM || e == EAGAIN || e == EINTR || e == EBUSY) {
                                for (unsigned long j = 0; j < cnt; j++) {
                                        mv->again[mv->n_again] = list[off + j];
                                        mv->again_status[mv->n_again++] = -(e == EINTR ? EAGAIN : e);
                                }
                                continue;
                        }
                        /* The rest of this list is not attempted: count it failed. */
                        mv->res->pages_failed += n - off;
                        mv->err = e > 0 ? -e : -EIO;
                        return mv->err;
                }
                for (unsigned long j = 0; j < cnt; j++) {
                        int st = mv->status[j];

                        if (st == mv->node)
                                count_moved(mv, 1);
                        else if (st == -ENOENT)
                                mv->res->pages_absent++;
                        else if (st == -EACCES && mv->flags == MPOL_MF_MOVE)
                                mv->res->pages_shared++; /* mapped elsewhere too: left by decision */
                        else if (retryable(st)) {
                                mv->again[mv->n_again] = list[off + j];
                                mv->again_status[mv->n_again++] = st;
                        } else
                                mv->res->pages_failed++; /* -EFAULT, another node */
                }
        }
        return 0;
}

/* Kernel 6.1 (Debian 12, the lab) answers -EFAULT both for the shared zero page and for an
 * anonymous page never touched (follow_page(FOLL_DUMP) on an empty pte); newer kernels answer
 * -ENOENT for the latter. pagemap tells them apart: an untouched page is neither present (bit 63)
 * nor swapped (bit 62). Without pagemap every -EFAULT page counts failed.
 * On 6.0-6.4 a present page behind a NUMA-hinting PROT_NONE pte answers -ENOENT and cannot move
 * until its hinting fault resolves: pagemap has it present, and take_hinted() resolves the fault
 * (test-residency-protnone shows the kernel side). */
static int read_pagemap(struct mover *mv, uint64_t first, size_t n)
{
        return pagemap_read(mv->pagemap, first, n, mv->page_size, mv->entries);
}

/* The pages a batch (all of one page size) added to each outcome, in bytes too. */
static void count_bytes(struct actuator_result *res, const struct actuator_result *before,
                        uint64_t page_size)
{
        res->bytes_already_there += (res->pages_already_there - before->pages_already_there) * page_size;
        res->bytes_busy += (res->pages_busy - before->pages_busy) * page_size;
        res->bytes_nomem += (res->pages_nomem - before->pages_nomem) * page_size;
        res->bytes_absent += (res->pages_absent - before->pages_absent) * page_size;
        res->bytes_shared += (res->pages_shared - before->pages_shared) * page_size;
        res->bytes_failed += (res->pages_failed - before->pages_failed) * page_size;
}

/* The pages a query answered -ENOENT although pagemap has them (mv->again[0..n)): a hinting pte
 * hides them on 6.0-6.4 (actuator-unhint.c). Takes their hinting faults, asks again, and appends
 * those now elsewhere to mv->pages[0..k). Returns the new k. */
static size_t take_hinted(struct mover *mv, size_t k, size_t n)
{
        if (n == 0)
                return k;
        mv->res->pages_unhinted += actuator_unhint_pages(mv->pid, mv->node, mv->again, n);
        if (numa_move_pages(mv->pid, (unsigned long)n, mv->again, NULL, mv->status, 0) < 0) {
                mv->res->pages_absent += n; /* the next period asks again */
                return k;
        }
        for (size_t i = 0; i < n; i++) {
                if (mv->status[i] == mv->node)
                        mv->res->pages_already_there++; /* the fault's own migration took it there */
                else if (mv->status[i] >= 0)
                        mv->pages[k++] = mv->again[i];
                else
                        mv->res->pages_absent++;
        }
        return k;
}

/* One batch of consecutive pages: ask where they are, move those elsewhere, retry the busy. */
static int move_batch(struct mover *mv, uint64_t first, size_t n)
{
        bool have_entries = false, tried = false;
        size_t k = 0, n_hinted = 0;
        int r;

        for (size_t i = 0; i < n; i++)
                mv->pages[i] = (void *)(uintptr_t)(first + i * mv->page_size);
        /* nodes == NULL: a query; it tells "already there" from "moved" and skips absent pages. */
        if (numa_move_pages(mv->pid, (unsigned long)n, mv->pages, NULL, mv->status, 0) < 0) {
                mv->err = negative_errno();
                mv->res->pages_failed += n;
                return mv->err;
        }
        for (size_t i = 0; i < n; i++) {
                int st = mv->status[i];

                if ((st == -EFAULT || st == -ENOENT) && !tried) {
                        have_entries = read_pagemap(mv, first, n) >= 0;
                        tried = true;
                }
                if (st == mv->node)
                        mv->res->pages_already_there++;
                else if (st == -ENOENT && have_entries && (mv->entries[i] & PAGEMAP_PRESENT))
                        /* In memory, behind a hinting pte. (Not a swapped page: reading it would
                         * swap it in.) */
                        mv->again[n_hinted++] = mv->pages[i];
                else if (st == -ENOENT ||
                         (st == -EFAULT && have_entries && pagemap_entry_absent(mv->entries[i])))
                        mv->res->pages_absent++;
                else if (st == -EFAULT || st == -EACCES)
                        /* The shared zero page (a page only ever read), or no VMA. 6.1 and 6.18
                         * both answer -EFAULT for the zero page; the unit test takes the running
                         * kernel's answer, so a kernel that names its node counts "already there". */
                        mv->res->pages_failed++;
                else
                        mv->pages[k++] = mv->pages[i];
        }

        k = take_hinted(mv, k, n_hinted);
        mv->n_again = 0;
        r = move_list(mv, mv->pages, k, mv->batch);
        /* Retry rounds in calls 8x smaller each time, so one stuck page holds back fewer. */
        for (unsigned round = 1, per_call = mv->batch; r >= 0 && mv->n_again > 0 && round <= mv->retries;
             round++) {
                size_t n_retry = mv->n_again;

                per_call = MAX(per_call / 8, 1u);
                memcpy(mv->pages, mv->again, n_retry * sizeof(*mv->pages));
                mv->n_again = 0;
                r = move_list(mv, mv->pages, n_retry, per_call);
        }
        if (r < 0) {
                mv->res->pages_failed += mv->n_again; /* waiting for a retry that will not come */
                mv->n_again = 0;
                return r;
        }
        for (size_t i = 0; i < mv->n_again; i++) {
                if (mv->again_status[i] == -ENOMEM)
                        mv->res->pages_nomem++;
                else
                        mv->res->pages_busy++;
        }
        mv->n_again = 0;
        return 0;
}

int actuator_migrate(struct actuator *a, const struct action *act, const struct guest_model *m,
                     struct actuator_result *res, char *line, size_t size)
{
        _cleanup_free_ struct span *spans = NULL;
        _cleanup_free_ void **pages = NULL, **again = NULL;
        _cleanup_free_ int *nodes = NULL, *status = NULL, *again_status = NULL;
        _cleanup_free_ uint64_t *entries = NULL;
        _cleanup_close_ int pagemap = -1;
        _cleanup_free_ char *pagemap_path = NULL;
        char rel[64];
        struct mover mv;
        uint64_t total_pages = 0, max_batch = 0;
        size_t n_spans = 0;
        int ci, r;

        res->bytes_requested = act->bytes;
        snprintf(line, size, "%" PRIu64 " bytes at +%" PRIu64 " -> node %d", act->bytes, act->offset,
                 act->node_id);
        ci = guest_model_cell_index(m, act->cell);
        if (ci < 0)
                return -ENOENT;
        if (act->node_id < 0)
                return -EINVAL;
        r = cell_spans(&m->cells[ci], act->offset, act->bytes, &spans, &n_spans);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_spans; i++)
                total_pages += spans[i].n_pages;
        snprintf(line, size,
                 "%" PRIu64 " bytes at +%" PRIu64 " (%" PRIu64 " pages from 0x%" PRIx64
                 ", %zu range%s) -> node %d",
                 act->bytes, act->offset, total_pages, n_spans ? spans[0].start : 0, n_spans,
                 n_spans == 1 ? "" : "s", act->node_id);
        if (total_pages == 0)
                return 0;

        max_batch = MIN(total_pages, (uint64_t)a->batch_pages);
        pages = calloc(max_batch, sizeof(*pages));
        again = calloc(max_batch, sizeof(*again));
        nodes = calloc(max_batch, sizeof(*nodes));
        status = calloc(max_batch, sizeof(*status));
        again_status = calloc(max_batch, sizeof(*again_status));
        entries = calloc(max_batch, sizeof(*entries));
        if (!pages || !again || !nodes || !status || !again_status || !entries)
                return -ENOMEM;
        snprintf(rel, sizeof(rel), "%d/pagemap", (int)m->pid);
        r = path_join_root(a->procfs_root, rel, &pagemap_path);
        if (r < 0)
                return r;
        pagemap = open(pagemap_path, O_RDONLY | O_CLOEXEC);
        mv = (struct mover){
                .pid = m->pid,
                .node = act->node_id,
                .batch = (unsigned)max_batch,
                .retries = a->retries,
                .pages = pages,
                .nodes = nodes,
                .status = status,
                .again = again,
                .again_status = again_status,
                .res = res,
                .pagemap = pagemap,
                .entries = entries,
        };

        /* In the action's range order: the planner already put the hottest first. */
        for (size_t i = 0; i < n_spans && mv.err == 0; i++) {
                mv.page_size = spans[i].page_size;
                mv.flags = spans[i].flags;
                for (uint64_t done = 0; done < spans[i].n_pages && mv.err == 0;) {
                        size_t n = (size_t)MIN(spans[i].n_pages - done, max_batch);
                        struct actuator_result before = *res;

                        r = move_batch(&mv, spans[i].start + done * mv.page_size, n);
                        count_bytes(res, &before, mv.page_size);
                        if (r < 0) {
                                /* Pages never reached count as failed too. */
                                res->pages_failed += spans[i].n_pages - done - n;
                                res->bytes_failed += (spans[i].n_pages - done - n) * mv.page_size;
                                for (size_t j = i + 1; j < n_spans; j++) {
                                        res->pages_failed += spans[j].n_pages;
                                        res->bytes_failed += spans[j].n_pages * spans[j].page_size;
                                }
                        }
                        done += n;
                }
        }
        if (mv.err < 0)
                return res->pages_moved > 0 ? 1 : mv.err;
        return res->pages_busy + res->pages_nomem + res->pages_failed > 0 ? 1 : 0;
}
