/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Parser for /proc/PID/maps and /proc/PID/smaps (same header lines; smaps adds fields). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vnuma/basic/macro.h"

struct proc_map {
        uint64_t start, end; /* [start, end) */
        char perms[5];
        uint64_t offset;
        char *path;                /* NULL for anonymous mappings */
        uint64_t kernel_page_size; /* smaps KernelPageSize, 0 when parsing plain maps */
};

struct proc_maps {
        size_t n_maps;
        struct proc_map *maps; /* in address order, as the kernel prints them */
};

/* -EBADMSG with *ret_line (1-based) on a malformed line. */
int proc_maps_parse(const char *text, struct proc_maps **ret, unsigned *ret_line);
/* Reads PROCFS_ROOT/PID/smaps (or maps if smaps is false). */
int proc_maps_read(const char *procfs_root, pid_t pid, bool smaps, struct proc_maps **ret);
void proc_maps_free(struct proc_maps *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct proc_maps *, proc_maps_free);

/* Whether [start, end) is covered by mappings without a gap, each readable and writable.
 * On success *ret_page_size (if non-NULL) is the largest KernelPageSize seen in the span. */
bool proc_maps_covers(const struct proc_maps *m, uint64_t start, uint64_t end, uint64_t *ret_page_size);
