/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Host NUMA topology, read from sysfs below a settable root. */

#include <stdbool.h>
#include <stdint.h>

#include "vnuma/basic/idset.h"
#include "vnuma/basic/macro.h"

struct host_node {
        int id;            /* kernel node id; ids may be sparse */
        struct idset cpus; /* empty for a CPU-less (memory-only) node */
        uint64_t mem_total_bytes;
        uint64_t mem_free_bytes;
};

struct host_topology {
        unsigned n_nodes;
        struct host_node *nodes; /* sorted by id */
        int *distance;           /* n_nodes * n_nodes, indexed by position, not id */
        int n_cpus;              /* highest possible CPU id + 1 */
};

/* Reads SYSFS_ROOT/devices/system/node/{online,nodeN/{cpulist,distance,meminfo}}.
 * sysfs_root NULL means "/sys". -ENOENT if no node directory exists, -EBADMSG if a file
 * does not parse (the debug log names it). */
int host_topology_read(const char *sysfs_root, struct host_topology **ret);
void host_topology_free(struct host_topology *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct host_topology *, host_topology_free);

/* Position of node id in t->nodes, or -ENOENT. */
int host_topology_node_index(const struct host_topology *t, int node_id);
/* Node id holding cpu, or -ENOENT. */
int host_topology_node_of_cpu(const struct host_topology *t, int cpu);
/* Node id of a thread: the node its affinity confines it to (a pinned thread runs there next,
 * however long it slept since it last ran elsewhere), else the node of the CPU it last ran on.
 * -ENOENT if neither tells, or if that CPU is outside an affinity spanning several nodes (set
 * while it slept: it has not run since, and counting it on its old node made a planner that pins
 * to several nodes re-pin an idle vCPU every period). */
int host_topology_node_of_thread(const struct host_topology *t, const struct idset *affinity, int last_cpu);
/* Distance between two node ids, or -ENOENT. */
int host_topology_distance(const struct host_topology *t, int from_id, int to_id);
/* Nearest node (by distance, then id) that has CPUs, for a CPU-less node. Itself if it has CPUs. */
int host_topology_nearest_cpu_node(const struct host_topology *t, int node_id);
