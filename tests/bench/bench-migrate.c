/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Migration throughput: vnumad's move_pages path (the direct actuator) against migratepages(8)
 * (the kernel's migrate_pages) on the same 512 MiB region, in one process, rounds alternated.
 * Needs two NUMA nodes: run it in the lab. Prints medians and the ratio. */
#include <inttypes.h>
#include <numa.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vnuma/actuator/actuator.h"
#include "vnuma/host/residency.h"
#include "vnuma/model/guest.h"

#define REGION (512ull << 20)
#define ROUNDS 3

static double now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t bytes_on(void *buf, int node)
{
        struct residency r = {};
        if (residency_scan(getpid(), (uint64_t)(uintptr_t)buf, REGION, 4096, &r) < 0)
                return 0;
        return r.node_bytes[node];
}

static int migratepages(int from, int to)
{
        char pid[16], f[8], t[8];
        pid_t child;
        int status;

        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        snprintf(f, sizeof(f), "%d", from);
        snprintf(t, sizeof(t), "%d", to);
        child = fork();
        if (child == 0) {
                execlp("migratepages", "migratepages", pid, f, t, (char *)NULL);
                _exit(127);
        }
        if (child < 0 || waitpid(child, &status, 0) < 0)
                return -1;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int cmp(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

int main(void)
{
        struct guest_region region = {.size_bytes = REGION, .page_size = 4096};
        struct guest_cell cell = {.id = 0, .size_bytes = REGION, .n_regions = 1, .regions = &region};
        struct guest_model model = {.name = (char *)"bench", .pid = getpid(), .n_cells = 1, .cells = &cell};
        struct actuator_vm vm = {.id = 1, .model = &model, .name = "bench"};
        struct actuator_config cfg;
        struct actuator *a = NULL;
        double t_vnumad[ROUNDS], t_kernel[ROUNDS];
        unsigned long mask0 = 1;
        char *buf;

        /* NUMA balancing makes pages PROT_NONE behind our back, and move_pages cannot take those
         * (migrate_pages can): compare the two paths on equal terms, with it off. */
        FILE *nb = fopen("/proc/sys/kernel/numa_balancing", "r+");
        int balancing = 0;
        if (nb) {
                if (fscanf(nb, "%d", &balancing) != 1)
                        balancing = 0;
                rewind(nb);
                fputs("0\n", nb);
                fclose(nb);
        }

        if (numa_available() < 0 || numa_max_node() < 1) {
                printf("SKIP: needs 2 NUMA nodes (run in the lab)\n");
                return 77;
        }
        buf = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (buf == MAP_FAILED)
                return perror("mmap"), 1;
        madvise(buf, REGION, MADV_NOHUGEPAGE);
        /* First touch on node 0, then back to the default policy so either tool may move it. */
        if (mbind(buf, REGION, MPOL_BIND, &mask0, sizeof(mask0) * 8, 0) < 0)
                return perror("mbind"), 1;
        memset(buf, 0x5a, REGION);
        mbind(buf, REGION, MPOL_DEFAULT, NULL, 0, 0);
        region.hva_start = (uint64_t)(uintptr_t)buf;

        actuator_config_init(&cfg);
        cfg.kind = ACTUATOR_DIRECT;
        if (getenv("BATCH"))
                cfg.batch_pages = (unsigned)atoi(getenv("BATCH"));
        if (actuator_new(&cfg, &a) < 0)
                return fprintf(stderr, "actuator_new failed\n"), 1;

        for (int round = 0; round < ROUNDS; round++) {
                struct action act = {.type = ACTION_MIGRATE, .vm_id = 1, .cell = 0, .bytes = REGION};
                struct actuator_result res;
                double t0;

                if (bytes_on(buf, 0) < REGION * 99 / 100)
                        return fprintf(stderr, "round %d: region not on node 0 at start\n", round), 1;
                act.node = act.node_id = 1;
                act.from_node = 0;
                t0 = now_s();
                if (actuator_apply(a, NULL, &act, &vm, &res) < 0)
                        return fprintf(stderr, "vnumad move failed\n"), 1;
                t_vnumad[round] = now_s() - t0;
                if (bytes_on(buf, 1) < REGION * 99 / 100)
                        return fprintf(stderr,
                                       "vnumad: only %" PRIu64 " bytes reached node 1 (moved %" PRIu64
                                       ", already %" PRIu64 ", busy %" PRIu64 ", nomem %" PRIu64
                                       ", absent %" PRIu64 ", failed %" PRIu64 ")\n",
                                       bytes_on(buf, 1), res.pages_moved, res.pages_already_there,
                                       res.pages_busy, res.pages_nomem, res.pages_absent, res.pages_failed),
                               1;

                act.node = act.node_id = 0; /* back, untimed */
                act.from_node = 1;
                if (actuator_apply(a, NULL, &act, &vm, &res) < 0 || bytes_on(buf, 0) < REGION * 99 / 100)
                        return fprintf(stderr, "moving back to node 0 failed\n"), 1;

                t0 = now_s();
                if (migratepages(0, 1) < 0)
                        return fprintf(stderr, "migratepages failed (package numactl)\n"), 1;
                t_kernel[round] = now_s() - t0;
                if (bytes_on(buf, 1) < REGION * 99 / 100)
                        return fprintf(stderr, "migratepages: region not on node 1\n"), 1;
                if (migratepages(1, 0) < 0) /* back, untimed */
                        return 1;
                printf("round %d: vnumad %.3f s, migratepages %.3f s\n", round, t_vnumad[round],
                       t_kernel[round]);
        }
        qsort(t_vnumad, ROUNDS, sizeof(double), cmp);
        qsort(t_kernel, ROUNDS, sizeof(double), cmp);
        printf("migrate 512 MiB node 0 -> 1: vnumad median %.3f s (%.0f MiB/s), migratepages median %.3f s "
               "(%.0f MiB/s), ratio vnumad/migratepages throughput %.2f (goal >= 1.0)\n",
               t_vnumad[ROUNDS / 2], 512 / t_vnumad[ROUNDS / 2], t_kernel[ROUNDS / 2],
               512 / t_kernel[ROUNDS / 2], t_kernel[ROUNDS / 2] / t_vnumad[ROUNDS / 2]);
        for (size_t i = 0; i < REGION; i += 4096)
                if (buf[i] != 0x5a)
                        return fprintf(stderr, "content changed at offset %zu\n", i), 1;
        actuator_free(a);
        nb = fopen("/proc/sys/kernel/numa_balancing", "w");
        if (nb) {
                fprintf(nb, "%d\n", balancing);
                fclose(nb);
        }
        return 0;
}
