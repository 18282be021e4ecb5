/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Soft-dirty write tracking (CONFIG_MEM_SOFT_DIRTY): writing "4" to /proc/PID/clear_refs clears
 * the soft-dirty bit of every page of the process; a later write sets it again, and
 * /proc/PID/pagemap shows it as bit 55. Documented in Documentation/admin-guide/mm/soft-dirty.rst
 * and pagemap.rst. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vnuma/host/pagemap.h"

/* Entries with the soft-dirty bit. */
uint64_t pagemap_count_soft_dirty(const uint64_t *entries, size_t n);

/* Base pages of [start, start + length) written since the last clear, read from an open
 * pagemap file. start and length must be multiples of the base page size. -EIO on a short read. */
int soft_dirty_count(int pagemap_fd, uint64_t start, uint64_t length, uint64_t *ret_pages);

/* Opens PROCFS_ROOT/PID/pagemap read-only. */
int soft_dirty_open_pagemap(const char *procfs_root, pid_t pid, int *ret_fd);

/* Writes "4" to PROCFS_ROOT/PID/clear_refs: clears soft-dirty for the WHOLE process. */
int soft_dirty_clear(const char *procfs_root, pid_t pid);

/* Whether this kernel tracks soft-dirty, tried on the calling process through PROCFS_ROOT/self:
 * a written page must show bit 55, lose it after clear_refs 4 and regain it on the next write.
 * *ret_works false if any step shows otherwise; a negative errno if the files cannot be used
 * (e.g. -ENOENT below a fixture root). Clears the soft-dirty bits of the calling process. */
int soft_dirty_probe(const char *procfs_root, bool *ret_works);
