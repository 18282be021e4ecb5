/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Per-period host readings: busy CPUs per node from /proc/stat, MemFree per node from sysfs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampler-internal.h"
#include "vnuma/basic/fileio.h"

/* /proc/stat carries a long "intr" line (one number per IRQ); leave room for big hosts. */
#define PROC_STAT_MAX (16u << 20)
#define MEMINFO_MAX   (64u << 10)

static int read_cpu_times(struct sampler *s, size_t n, struct cpu_times **ret)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_free_ struct cpu_times *times = NULL;
        unsigned line = 0;
        int r;

        times = calloc(MAX(n, (size_t)1), sizeof(*times));
        if (!times)
                return -ENOMEM;
        r = read_full_file_at(s->procfs_root, "/stat", PROC_STAT_MAX, &text, NULL);
        if (r < 0) {
                (void)sampler_add_issue(s, 0, SAMPLER_ISSUE_HOST, r, "%s/stat: cannot read: %s",
                                        s->procfs_root, strerror(-r));
                return r;
        }
        r = proc_stat_cpu_times_parse(text, times, n, &line);
        if (r < 0) {
                (void)sampler_add_issue(s, 0, SAMPLER_ISSUE_HOST, r, "%s/stat:%u: malformed cpu line",
                                        s->procfs_root, line);
                return r;
        }
        *ret = TAKE_PTR(times);
        return 0;
}

static int read_mem_free(struct sampler *s, int node_id, uint64_t *ret)
{
        _cleanup_free_ char *text = NULL;
        char path[96];
        unsigned line = 0;
        int r;

        snprintf(path, sizeof(path), "/devices/system/node/node%d/meminfo", node_id);
        r = read_full_file_at(s->sysfs_root, path, MEMINFO_MAX, &text, NULL);
        if (r < 0) {
                (void)sampler_add_issue(s, 0, SAMPLER_ISSUE_HOST, r, "%s%s: cannot read: %s", s->sysfs_root,
                                        path, strerror(-r));
                return r;
        }
        r = node_meminfo_free_parse(text, node_id, ret, &line);
        if (r < 0) {
                (void)sampler_add_issue(s, 0, SAMPLER_ISSUE_HOST, r,
                                        "%s%s:%u: no valid MemFree line of node %d", s->sysfs_root, path,
                                        line, node_id);
                return r;
        }
        return 0;
}

int sampler_sense_host(struct sampler *s, const struct host_topology *topo, struct snap_host *ret)
{
        _cleanup_free_ struct cpu_times *cur = NULL, *zero = NULL;
        uint64_t mem_free[SNAP_NODES_MAX];
        double load[SNAP_NODES_MAX];
        size_t n = topo->n_cpus > 0 ? (size_t)topo->n_cpus : 0;
        const struct cpu_times *prev;
        int r;

        if (topo->n_nodes > SNAP_NODES_MAX) {
                (void)sampler_add_issue(s, 0, SAMPLER_ISSUE_HOST, -E2BIG,
                                        "%u host nodes, at most %d supported", topo->n_nodes,
                                        SNAP_NODES_MAX);
                return -E2BIG;
        }
        r = read_cpu_times(s, n, &cur);
        if (r < 0)
                return r;
        if (s->cpu_prev && s->n_cpu_prev == n)
                prev = s->cpu_prev;
        else {
                /* First period (or CPUs came and went): the counters since boot. */
                zero = calloc(MAX(n, (size_t)1), sizeof(*zero));
                if (!zero)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++)
                        zero[i].valid = cur[i].valid;
                prev = zero;
        }
        for (unsigned i = 0; i < topo->n_nodes; i++) {
                load[i] = cpu_times_load(prev, cur, n, &topo->nodes[i].cpus);
                r = read_mem_free(s, topo->nodes[i].id, &mem_free[i]);
                if (r < 0)
                        return r;
        }
        r = snapshot_build_host(topo, mem_free, load, ret);
        if (r < 0)
                return r;
        free(s->cpu_prev);
        s->cpu_prev = TAKE_PTR(cur);
        s->n_cpu_prev = n;
        return 0;
}
