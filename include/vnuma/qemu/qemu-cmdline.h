/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The guest node -> memory backend mapping, from QEMU's command line. No QMP command reports
 * it, so it is read from /proc/PID/cmdline (`-numa node,nodeid=N,memdev=ID,cpus=...`, or the
 * JSON form libvirt may use) and cross-checked by the caller against `info numa`. */

#include <stddef.h>
#include <sys/types.h>

#include "vnuma/basic/macro.h"

struct numa_node_arg {
        int nodeid;
        char *memdev; /* NULL when the node has no memdev (legacy mem= or memory-less) */
};

struct numa_args {
        unsigned n_nodes;
        struct numa_node_arg *nodes;
};

/* argv is the NUL-separated /proc/PID/cmdline blob of `size` bytes. -EBADMSG on a malformed
 * -numa node argument (duplicate nodeid, bad number, bad JSON). Non-node -numa kinds
 * (dist, cpu, hmat-*) are skipped. */
int numa_args_parse(const char *argv, size_t size, struct numa_args **ret);
int numa_args_read(const char *procfs_root, pid_t pid, struct numa_args **ret);
void numa_args_free(struct numa_args *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct numa_args *, numa_args_free);

/* memdev of a guest node, or NULL. */
const char *numa_args_memdev(const struct numa_args *a, int nodeid);
