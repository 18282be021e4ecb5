/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Per-period host readings for the snapshot: CPU time per CPU from /proc/stat (for the busy CPUs
 * of each node) and free memory per node from sysfs nodeN/meminfo. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vnuma/basic/idset.h"

struct cpu_times {
        bool valid;     /* the CPU had a line (offline CPUs have none) */
        uint64_t busy;  /* total - idle - iowait */
        uint64_t total; /* user..steal; guest time is already inside user and nice */
};

/* Fills times[N] from the "cpuN ..." lines of /proc/stat for N < n (others are ignored, as is
 * the aggregate "cpu" line), clearing the rest. -EBADMSG with *ret_line (1-based) on a cpuN line
 * with fewer than four values, a non-number, or a CPU listed twice. */
int proc_stat_cpu_times_parse(const char *text, struct cpu_times *times, size_t n, unsigned *ret_line);

/* Busy CPUs of the set over the interval between two readings: for each CPU valid in both,
 * busy delta / total delta, summed (0..number of CPUs). A CPU whose counters went backwards
 * (offlined and back) or did not move counts as idle. */
double cpu_times_load(const struct cpu_times *prev, const struct cpu_times *cur, size_t n,
                      const struct idset *cpus);

/* MemFree of SYSFS devices/system/node/nodeN/meminfo text ("Node N MemFree: 123 kB").
 * -EBADMSG with *ret_line on a MemFree line that does not parse or names another node, or
 * (line 0) when there is no MemFree line. */
int node_meminfo_free_parse(const char *text, int node_id, uint64_t *ret_bytes, unsigned *ret_line);
