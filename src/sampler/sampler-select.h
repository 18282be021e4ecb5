/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Which memory samplers this host offers, and which ones a requested kind turns on. */

#include <stdbool.h>

#include "vnuma/sampler/sampler.h"

struct sampler_caps {
        bool numa_balancing;    /* PROCFS/sys/kernel/numa_balancing has bit 0 (NUMA_BALANCING_NORMAL) */
        bool sched_numa_faults; /* PROCFS/thread-self/sched carries numa_faults lines */
        bool soft_dirty;        /* soft_dirty_probe() saw bit 55 behave */
        bool damon;             /* SYSFS/kernel/mm/damon/admin exists (CONFIG_DAMON_SYSFS); whether a
                                 * kdamond can be had is only known when claiming it */
};

/* Reads the capabilities below the roots. A missing numa_balancing or sched file means "no";
 * a malformed one is -EBADMSG (*ret_what names the file, *ret_line the line; either may be NULL).
 * The soft-dirty probe runs only when probe_soft_dirty is set; it fails soft (false). */
int sampler_caps_read(const char *procfs_root, const char *sysfs_root, bool probe_soft_dirty,
                      struct sampler_caps *ret, const char **ret_what, unsigned *ret_line);

/* SAMPLER_USE_* flags for a requested kind (residency is always on):
 * auto: damon if the DAMON sysfs interface is there, else hinting if numa_balancing and
 * sched_numa_faults, else soft-dirty if it works, else none (sampler_new falls back from damon
 * to the next of these when the kdamond cannot be claimed or started);
 * residency: none; hinting / soft-dirty / damon: that one, or -EOPNOTSUPP if the host lacks it. */
int sampler_select(enum sampler_kind requested, const struct sampler_caps *caps, unsigned *ret_flags);
