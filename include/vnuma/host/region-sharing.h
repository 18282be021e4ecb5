/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A guest region's sharing (enum region_sharing), read from the smaps entries that cover it. */

#include <stdint.h>

#include "vnuma/host/proc-maps.h"
#include "vnuma/model/guest.h"

/* The sharing of one mapping: "rw-p" is private; "rw-s" is per-VM memory when its path is a memfd
 * ("/memfd:NAME (deleted)") or under /dev/shm, or its KernelPageSize is larger than
 * base_page_size (hugetlbfs); any other shared mapping is a file's. */
enum region_sharing proc_map_sharing(const struct proc_map *p, uint64_t base_page_size);

/* The most conservative sharing of the mappings covering [start, end), in the order private <
 * shared memory < shared file for the flags they lead to (vnumad(8)). -ENOENT when a part of the
 * range is not mapped. */
int proc_maps_sharing(const struct proc_maps *m, uint64_t start, uint64_t end, uint64_t base_page_size,
                      enum region_sharing *ret);
