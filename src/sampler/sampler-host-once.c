/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One reading of the host without a running sampler (vnumactl advise when vnumad is not running):
 * free memory per node now, busy CPUs per node over a short interval. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sampler-internal.h"
#include "vnuma/basic/fileio.h"

#define PROC_STAT_MAX (16u << 20)
#define MEMINFO_MAX   (64u << 10)

static int read_times(const char *procfs_root, size_t n, struct cpu_times **ret)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_free_ struct cpu_times *times = calloc(MAX(n, (size_t)1), sizeof(*times));
        unsigned line = 0;
        int r;

        if (!times)
                return -ENOMEM;
        r = read_full_file_at(procfs_root, "/stat", PROC_STAT_MAX, &text, NULL);
        if (r < 0)
                return r;
        r = proc_stat_cpu_times_parse(text, times, n, &line);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(times);
        return 0;
}

int sampler_read_host_once(const struct host_topology *topo, const char *sysfs_root, const char *procfs_root,
                           uint64_t interval_ns, struct snap_host *ret)
{
        _cleanup_free_ struct cpu_times *a = NULL, *b = NULL;
        uint64_t mem_free[SNAP_NODES_MAX];
        double load[SNAP_NODES_MAX];
        size_t n = topo && topo->n_cpus > 0 ? (size_t)topo->n_cpus : 0;
        struct timespec ts = {.tv_sec = (time_t)(interval_ns / 1000000000u),
                              .tv_nsec = (long)(interval_ns % 1000000000u)};
        int r;

        if (!topo || !ret)
                return -EINVAL;
        if (topo->n_nodes > SNAP_NODES_MAX)
                return -E2BIG;
        r = read_times(procfs_root ?: "/proc", n, &a);
        if (r < 0)
                return r;
        while (nanosleep(&ts, &ts) < 0)
                if (errno != EINTR)
                        return -errno;
        r = read_times(procfs_root ?: "/proc", n, &b);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < topo->n_nodes; i++) {
                _cleanup_free_ char *text = NULL;
                char path[96];
                unsigned line = 0;

                load[i] = cpu_times_load(a, b, n, &topo->nodes[i].cpus);
                snprintf(path, sizeof(path), "/devices/system/node/node%d/meminfo", topo->nodes[i].id);
                r = read_full_file_at(sysfs_root ?: "/sys", path, MEMINFO_MAX, &text, NULL);
                if (r < 0)
                        return r;
                r = node_meminfo_free_parse(text, topo->nodes[i].id, &mem_free[i], &line);
                if (r < 0)
                        return r;
        }
        return snapshot_build_host(topo, mem_free, load, ret);
}
