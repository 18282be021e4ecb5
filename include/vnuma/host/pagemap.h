/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* /proc/PID/pagemap: one 64-bit entry per base page of a process's address space. Residency,
 * the migration actuator and the soft-dirty sampler all read it through here. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAGEMAP_PRESENT    (UINT64_C(1) << 63)
#define PAGEMAP_SWAPPED    (UINT64_C(1) << 62)
#define PAGEMAP_SOFT_DIRTY (UINT64_C(1) << 55)
/* Frame number; reads as 0 without CAP_SYS_ADMIN. */
#define PAGEMAP_PFN_MASK ((UINT64_C(1) << 55) - 1)

/* Entries of n pages from start, stepping by page_size (for pages larger than the base page, the
 * entry of each page's first base page). One pread when page_size is the base page size.
 * -EIO on a short read. */
int pagemap_read(int fd, uint64_t start, size_t n, uint64_t page_size, uint64_t *entries);

/* Never touched: neither present nor swapped out. */
static inline bool pagemap_entry_absent(uint64_t e)
{
        return !(e & (PAGEMAP_PRESENT | PAGEMAP_SWAPPED));
}
