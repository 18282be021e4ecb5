/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Residency: on which host node each page of a guest memory range sits, read with
 * move_pages(pid, n, pages, NULL, status, 0) in large batches. */

#include <stdint.h>
#include <sys/types.h>

#define RESIDENCY_MAX_NODES 64

struct residency {
        uint64_t node_bytes[RESIDENCY_MAX_NODES]; /* indexed by host node id */
        uint64_t not_present_bytes;               /* -ENOENT: never touched, or swapped out */
        uint64_t efault_bytes;                    /* -EFAULT on a page pagemap cannot place: no VMA */
        uint64_t busy_bytes;                      /* -EBUSY: pinned or under I/O at the time */
        uint64_t denied_bytes; /* -EACCES: a query (nodes = NULL) never answers it; kept for a
                                * kernel that would. Shared pages left by a migration are counted
                                * by the actuator (pages_shared). */
        uint64_t other_bytes;  /* any other status, or node id >= RESIDENCY_MAX_NODES */
        uint64_t scanned_pages;
        uint64_t syscalls;
};

#define RESIDENCY_BATCH_PAGES 32768

/* Adds the pages of [start, start+length) to *acc, stepping by page_size. Pages that
 * /proc/PID/pagemap shows as absent are counted as not present without a lookup. The range must be
 * page_size-aligned. -ESRCH if the process is gone; acc is only updated on success. */
int residency_scan(pid_t pid, uint64_t start, uint64_t length, uint64_t page_size, struct residency *acc);

uint64_t residency_present_bytes(const struct residency *r);
void residency_add(struct residency *dst, const struct residency *src);
