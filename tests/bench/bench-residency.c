/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Residency scan cost for one running QEMU: vnumad's move_pages scan against the kernel's own
 * numa_maps walk of the same process, both timed in this process. Prints medians and ratios. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "vnuma/basic/fileio.h"
#include "vnuma/basic/log.h"
#include "vnuma/host/topology.h"
#include "vnuma/qemu/guest-query.h"
#include "vnuma/qmp/qmp.h"
#include "vnuma/report/observe.h"

static double now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

static double median(double *v, int n)
{
        qsort(v, (size_t)n, sizeof(*v), cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char *argv[])
{
        _cleanup_(host_topology_freep) struct host_topology *topo = NULL;
        _cleanup_(qmp_client_freep) struct qmp_client *qmp = NULL;
        _cleanup_(guest_model_freep) struct guest_model *m = NULL;
        _cleanup_free_ char *error = NULL;
        const char *path = NULL, *label = "guest";
        int runs = 5, r;

        static const struct option options[] = {
                {"qmp", required_argument, NULL, 'q'},
                {"runs", required_argument, NULL, 'n'},
                {"label", required_argument, NULL, 'l'},
                {},
        };
        for (int c; (c = getopt_long(argc, argv, "", options, NULL)) >= 0;)
                switch (c) {
                case 'q':
                        path = optarg;
                        break;
                case 'n':
                        runs = atoi(optarg);
                        break;
                case 'l':
                        label = optarg;
                        break;
                default:
                        return 2;
                }
        if (!path || runs < 1 || runs > 1000) {
                fprintf(stderr, "usage: bench-residency --qmp PATH [--runs N] [--label TEXT]\n");
                return 2;
        }

        r = host_topology_read(NULL, &topo);
        if (r < 0)
                return log_error_errno(r, "host topology: %m"), 1;
        r = qmp_client_connect_unix(path, 30000, &qmp);
        if (r < 0)
                return log_error_errno(r, "%s: %m", path), 1;
        r = guest_model_query(qmp, NULL, &m, &error);
        if (r < 0)
                return log_error("%s: %s", path, error ?: "?"), 1;

        double scan[1000], walk[1000];
        uint64_t pages = 0, present = 0, size = 0;
        char numa_maps[64];

        snprintf(numa_maps, sizeof(numa_maps), "/proc/%d/numa_maps", (int)m->pid);
        for (int i = 0; i < runs; i++) {
                _cleanup_(vm_observation_freep) struct vm_observation *o = NULL;
                _cleanup_free_ char *text = NULL;
                double t0 = now_ms();

                r = vm_observe(m, topo, NULL, &o);
                if (r < 0)
                        return log_error_errno(r, "observe: %m"), 1;
                scan[i] = now_ms() - t0;
                pages = present = size = 0;
                for (unsigned c = 0; c < m->n_cells; c++) {
                        pages += o->cells[c].residency.scanned_pages;
                        size += m->cells[c].size_bytes;
                }
                present = o->total.present_bytes;

                t0 = now_ms();
                r = read_full_file_at(NULL, numa_maps, 64u << 20, &text, NULL);
                if (r < 0)
                        return log_error_errno(r, "%s: %m", numa_maps), 1;
                walk[i] = now_ms() - t0;
        }
        double scan_ms = median(scan, runs), walk_ms = median(walk, runs);
        double present_gib = (double)present / (1 << 30);
        printf("%-28s size %6.1f GiB  present %6.2f GiB  pages %9llu  scan median %8.1f ms  "
               "%6.2f Mpages/s  %7.1f ms/GiB-present  numa_maps %7.1f ms  scan/numa_maps %5.2f\n",
               label, (double)size / (1 << 30), present_gib, (unsigned long long)pages, scan_ms,
               (double)pages / scan_ms / 1e3, present_gib > 0 ? scan_ms / present_gib : 0.0, walk_ms,
               walk_ms > 0 ? scan_ms / walk_ms : 0.0);
        return 0;
}
