/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Parser for HMP `info mtree -f`: the flattened guest-physical view of the "memory" address
 * space. QEMU 7.2 has no QMP command that reports where a backend's RAM sits in the guest. */

#include <stddef.h>
#include <stdint.h>

#include "vnuma/basic/macro.h"

struct mtree_range {
        uint64_t start;
        uint64_t last;   /* inclusive, as printed */
        uint64_t offset; /* offset into the region, the "@..." column, 0 if absent */
        char kind[16];   /* "ram", "rom", "i/o", "romd", ... */
        char *name;      /* memory region name; a backend's region is named by its id */
};

struct mtree {
        size_t n_ranges;
        struct mtree_range *ranges;
};

/* QEMU's own output for a large machine is a few thousand lines; the text comes from a QEMU
 * that may be hostile, so more is refused rather than walked. */
#define MTREE_MAX_LINES  100000u
#define MTREE_MAX_RANGES 16384u

/* Parses the FlatView that serves AS "memory". -EBADMSG (with *ret_line set to the 1-based
 * line number, if non-NULL) on a malformed range line, -ENOENT if no such FlatView exists,
 * -E2BIG past MTREE_MAX_LINES lines or MTREE_MAX_RANGES ranges. */
int mtree_parse(const char *text, struct mtree **ret, unsigned *ret_line);
void mtree_free(struct mtree *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct mtree *, mtree_free);

/* Guest-physical bytes of the RAM ranges named `name`. */
uint64_t mtree_bytes_of(const struct mtree *t, const char *name);
