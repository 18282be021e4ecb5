/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Migrations on this process's own memory. This machine has one NUMA node, so "moving" to node 0
 * finds every touched page already there; what is checked is the range arithmetic, the per-page
 * classification, the error paths and that contents never change. The lab moves pages for real. */
#include <check.h>
#include <fcntl.h>
#include <inttypes.h>
#include <numa.h>
#include <numaif.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>

#include "../test-util.h"
#include "actuator-test.h"
#include "vnuma/actuator/actuator.h"

#define N_PAGES 64

struct mig_env {
        size_t ps;
        uint8_t *mem;
        struct guest_region regions[2];
        struct guest_cell cell;
        struct guest_model model;
        struct actuator_vm vm;
        int home;  /* the memory node the touched pages are bound to */
        int other; /* another memory node we may use, or -1 on a one-node machine */
};

/* One cell of two regions, 32 pages each (the second mapped right after the first, but the
 * actuator only knows them as regions in order). Even pages are written, odd ones never touched.
 * The mapping is bound to the first memory node we may use, so the layout is known on a multi-node
 * host (the lab) too. */
static void env_start(struct mig_env *e)
{
        struct bitmask *allowed = numa_get_mems_allowed();
        unsigned long mask;

        *e = (struct mig_env){.ps = (size_t)sysconf(_SC_PAGESIZE), .home = -1, .other = -1};
        for (int n = 0; n <= numa_max_node() && n < 64; n++)
                if (numa_bitmask_isbitset(allowed, (unsigned)n)) {
                        if (e->home < 0)
                                e->home = n;
                        else if (e->other < 0)
                                e->other = n;
                }
        numa_bitmask_free(allowed);
        ck_assert_int_ge(e->home, 0);
        e->mem = mmap(NULL, N_PAGES * e->ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ck_assert_ptr_ne(e->mem, MAP_FAILED);
        /* No THP: a huge page would make the untouched odd pages present. */
        ck_assert_int_eq(madvise(e->mem, N_PAGES * e->ps, MADV_NOHUGEPAGE), 0);
        mask = 1ul << e->home;
        ck_assert_int_eq(mbind(e->mem, N_PAGES * e->ps, MPOL_BIND, &mask, 64, 0), 0);
        for (size_t p = 0; p < N_PAGES; p += 2)
                for (size_t i = 0; i < e->ps; i += 64)
                        e->mem[p * e->ps + i] = (uint8_t)(p * 31 + i / 64 + 1);
        for (int r = 0; r < 2; r++)
                e->regions[r] = (struct guest_region){
                        .backend_id = (char *)(r ? "m0b" : "m0a"),
                        .kind = BACKEND_RAM,
                        .size_bytes = N_PAGES / 2 * e->ps,
                        .page_size = e->ps,
                        .hva_start = (uint64_t)(uintptr_t)(e->mem + r * N_PAGES / 2 * e->ps),
                };
        e->cell = (struct guest_cell){
                .id = 0, .size_bytes = N_PAGES * e->ps, .n_regions = 2, .regions = e->regions};
        e->model = (struct guest_model){
                .name = (char *)"self", .pid = getpid(), .n_cells = 1, .cells = &e->cell};
        e->vm = (struct actuator_vm){.id = 3, .model = &e->model};
}

static void env_stop(struct mig_env *e)
{
        ck_assert_int_eq(munmap(e->mem, N_PAGES * e->ps), 0);
}

static uint64_t checksum_touched(const struct mig_env *e)
{
        uint64_t h = 1469598103934665603u;

        for (size_t p = 0; p < N_PAGES; p += 2)
                for (size_t i = 0; i < e->ps; i++)
                        h = (h ^ e->mem[p * e->ps + i]) * 1099511628211u;
        return h;
}

/* Where each page is now, by a query of our own: a node, -ENOENT (never touched) or -EFAULT (the
 * zero page). Kernel 6.1 answers -EFAULT for untouched pages too; pagemap sorts those back. */
static void query(const struct mig_env *e, int *status)
{
        _cleanup_close_ int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
        void *pages[N_PAGES];

        ck_assert_int_ge(fd, 0);
        for (size_t p = 0; p < N_PAGES; p++)
                pages[p] = e->mem + p * e->ps;
        ck_assert_int_eq(numa_move_pages(0, N_PAGES, pages, NULL, status, 0), 0);
        for (size_t p = 0; p < N_PAGES; p++) {
                uint64_t entry;

                if (status[p] != -EFAULT)
                        continue;
                ck_assert_int_eq(pread(fd, &entry, sizeof(entry), (off_t)((uintptr_t)pages[p] / e->ps * 8)),
                                 8);
                if (!(entry >> 63 & 1) && !(entry >> 62 & 1))
                        status[p] = -ENOENT;
        }
}

static struct action migrate(uint64_t offset, uint64_t bytes, int node_id)
{
        return (struct action){
                .type = ACTION_MIGRATE,
                .vm_id = 3,
                .cell = 0,
                .offset = offset,
                .bytes = bytes,
                .from_node = 0,
                .node = 0,
                .node_id = node_id,
        };
}

static struct actuator *new_actuator(unsigned batch)
{
        struct actuator_config cfg;
        struct actuator *a = NULL;

        actuator_config_init(&cfg);
        cfg.batch_pages = batch;
        ck_assert_int_eq(actuator_new(&cfg, &a), 0);
        return a;
}

static void check_whole_cell(unsigned batch)
{
        _cleanup_(actuator_freep) struct actuator *a = new_actuator(batch);
        struct actuator_result res;
        struct mig_env e;
        struct action act;
        int status[N_PAGES];
        uint64_t before;

        env_start(&e);
        before = checksum_touched(&e);
        act = migrate(0, N_PAGES * e.ps, e.home);
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &e.vm, &res), 0);
        ck_assert_uint_eq(res.bytes_requested, N_PAGES * e.ps);
        ck_assert_uint_eq(res.pages_already_there, N_PAGES / 2);
        ck_assert_uint_eq(res.pages_absent, N_PAGES / 2);
        ck_assert_uint_eq(res.pages_moved, 0);
        ck_assert_uint_eq(res.bytes_moved, 0);
        ck_assert_uint_eq(res.pages_failed + res.pages_busy + res.pages_nomem, 0);
        /* The same outcomes in bytes (the metrics' migration bytes by result). */
        ck_assert_uint_eq(res.bytes_already_there, N_PAGES / 2 * e.ps);
        ck_assert_uint_eq(res.bytes_absent, N_PAGES / 2 * e.ps);
        ck_assert_uint_eq(res.bytes_failed + res.bytes_busy + res.bytes_nomem, 0);

        /* Every touched page is on node 0, untouched ones are still absent, contents unchanged. */
        query(&e, status);
        for (size_t p = 0; p < N_PAGES; p++)
                ck_assert_int_eq(status[p], p % 2 ? -ENOENT : e.home);
        ck_assert_uint_eq(checksum_touched(&e), before);
        env_stop(&e);
}

START_TEST(test_migrate_whole_cell)
{
        check_whole_cell(0);
}
END_TEST

/* A real move, where the host has a second memory node (the lab): in batches of 5 pages, across
 * the region boundary, contents unchanged. On a one-node host there is nowhere to move to. */
START_TEST(test_migrate_between_nodes)
{
        _cleanup_(actuator_freep) struct actuator *a = new_actuator(5);
        struct actuator_result res;
        struct mig_env e;
        struct action act;
        int status[N_PAGES];
        uint64_t before;

        env_start(&e);
        if (e.other < 0) {
                fprintf(stderr, "test_migrate_between_nodes: one memory node here, real moves are checked "
                                "in the lab\n");
                ck_assert_int_eq(numa_num_task_nodes(), 1);
                env_stop(&e);
                return;
        }
        before = checksum_touched(&e);
        act = migrate(0, N_PAGES * e.ps, e.other);
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &e.vm, &res), 0);
        ck_assert_uint_eq(res.pages_moved, N_PAGES / 2);
        ck_assert_uint_eq(res.bytes_moved, N_PAGES / 2 * e.ps);
        ck_assert_uint_eq(res.pages_absent, N_PAGES / 2);
        ck_assert_uint_eq(res.pages_already_there + res.pages_failed + res.pages_busy + res.pages_nomem, 0);
        query(&e, status);
        for (size_t p = 0; p < N_PAGES; p++)
                ck_assert_int_eq(status[p], p % 2 ? -ENOENT : e.other);
        ck_assert_uint_eq(checksum_touched(&e), before);

        /* Pages 30..35 back home: the end of region 0 and the start of region 1. */
        act = migrate(30 * e.ps, 6 * e.ps, e.home);
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &e.vm, &res), 0);
        ck_assert_uint_eq(res.pages_moved, 3);
        ck_assert_uint_eq(res.pages_absent, 3);
        query(&e, status);
        for (size_t p = 0; p < N_PAGES; p += 2)
                ck_assert_int_eq(status[p], p >= 30 && p < 36 ? e.home : e.other);
        ck_assert_uint_eq(checksum_touched(&e), before);
        env_stop(&e);
}
END_TEST

/* Batches of 5 pages: same counts, so batch edges lose or double nothing. */
START_TEST(test_migrate_small_batches)
{
        check_whole_cell(5);
}
END_TEST

START_TEST(test_migrate_ranges_widen_to_pages_and_cross_regions)
{
        _cleanup_(actuator_freep) struct actuator *a = new_actuator(0);
        struct actuator_result res;
        struct mig_env e;
        struct action act;

        env_start(&e);
        /* Half a page into page 0 for one page's worth: pages 0 (touched) and 1 (not). */
        act = migrate(e.ps / 2, e.ps, e.home);
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &e.vm, &res), 0);
        ck_assert_uint_eq(res.pages_already_there, 1);
        ck_assert_uint_eq(res.pages_absent, 1);

        /* Pages 30..35: the end of region 0 and the start of region 1. */
        act = migrate(30 * e.ps, 6 * e.ps, e.home);
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &e.vm, &res), 0);
        ck_assert_uint_eq(res.pages_already_there, 3);
        ck_assert_uint_eq(res.pages_absent, 3);

        /* The last byte of the cell alone: page 63 (odd, absent). */
        act = migrate(N_PAGES * e.ps - 1, 1, e.home);
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &e.vm, &res), 0);
        ck_assert_uint_eq(res.pages_absent, 1);
        ck_assert_uint_eq(res.pages_already_there, 0);
        env_stop(&e);
}
END_TEST

START_TEST(test_migrate_bad_ranges_touch_nothing)
{
        _cleanup_(actuator_freep) struct actuator *a = new_actuator(0);
        struct actuator_result res;
        struct mig_env e;
        struct action act;
        int status[N_PAGES];

        env_start(&e);
        act = migrate(60 * e.ps, 8 * e.ps, e.home); /* past the end */
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &e.vm, &res), -EINVAL);
        ck_assert_uint_eq(res.pages_already_there + res.pages_absent + res.pages_failed, 0);
        act = migrate(N_PAGES * e.ps + e.ps, e.ps, e.home); /* starts past the end */
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &e.vm, &res), -EINVAL);
        act = migrate(e.ps, UINT64_MAX, e.home); /* wraps around */
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &e.vm, &res), -EINVAL);
        act = migrate(0, 0, e.home);
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &e.vm, &res), -EINVAL);
        act = migrate(0, e.ps, -1);
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &e.vm, &res), -EINVAL);
        act = migrate(0, e.ps, e.home);
        act.cell = 4;
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &e.vm, &res), -ENOENT);
        /* A region whose address is unknown. */
        e.regions[1].hva_start = 0;
        act = migrate(0, N_PAGES * e.ps, e.home);
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &e.vm, &res), -EINVAL);
        ck_assert_uint_eq(res.pages_already_there, 0);

        query(&e, status);
        for (size_t p = 0; p < N_PAGES; p++)
                ck_assert_int_eq(status[p], p % 2 ? -ENOENT : e.home);

        const char *lines[8];
        size_t n = actuator_recorded(a, lines, 8);
        ck_assert_uint_eq(n, 7);
        ck_assert_ptr_nonnull(strstr(lines[0], "migrate vm 3 cell 0:"));
        ck_assert_ptr_nonnull(strstr(lines[0], "error: Invalid argument"));
        ck_assert_ptr_nonnull(strstr(lines[5], "error: No such file or directory"));
        env_stop(&e);
}
END_TEST

/* A node the kernel does not have: the call fails as a whole (ENODEV). The first batch (region 0)
 * was queried, so its touched pages count failed and its untouched ones absent; region 1 is never
 * reached and counts failed as a whole. Nothing moves, nothing crashes. */
START_TEST(test_migrate_to_missing_node)
{
        _cleanup_(actuator_freep) struct actuator *a = new_actuator(0);
        struct actuator_result res;
        struct mig_env e;
        struct action act;
        uint64_t before;

        env_start(&e);
        before = checksum_touched(&e);
        act = migrate(0, N_PAGES * e.ps, numa_max_node() + 1);
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &e.vm, &res), -ENODEV);
        ck_assert_uint_eq(res.pages_failed, N_PAGES / 4 + N_PAGES / 2);
        ck_assert_uint_eq(res.pages_absent, N_PAGES / 4);
        ck_assert_uint_eq(res.pages_moved + res.pages_already_there, 0);
        ck_assert_uint_eq(res.bytes_moved, 0);
        /* Bytes too, the region never reached included. */
        ck_assert_uint_eq(res.bytes_failed, (N_PAGES / 4 + N_PAGES / 2) * e.ps);
        ck_assert_uint_eq(res.bytes_absent, N_PAGES / 4 * e.ps);
        ck_assert_uint_eq(res.bytes_already_there, 0);
        ck_assert_uint_eq(checksum_touched(&e), before);
        env_stop(&e);
}
END_TEST

/* Pages only read map the shared zero page. Kernels differ in what move_pages answers for it (6.1
 * and 6.18 here: -EFAULT; a kernel may also report the zero page's node, or -ENOENT), and a page
 * the kernel cannot name is not one vnumad could move. So the expected outcome comes from the
 * kernel's own answer for these four pages, asked before the move: a node is "already there", -ENOENT
 * (or -EFAULT on a page pagemap says is absent) is absent, any other -EFAULT is failed and makes the
 * move partial. */
START_TEST(test_migrate_zero_pages_follow_the_kernel)
{
        _cleanup_(actuator_freep) struct actuator *a = new_actuator(0);
        struct actuator_result res;
        struct mig_env e;
        struct action act;
        struct utsname u;
        volatile uint8_t sink;
        int status[N_PAGES];
        uint64_t there = 0, absent = 0, failed = 0;

        env_start(&e);
        sink = e.mem[1 * e.ps];
        sink = e.mem[3 * e.ps];
        (void)sink;
        query(&e, status);
        ck_assert_int_eq(uname(&u), 0);
        fprintf(stderr,
                "test_migrate_zero_pages_follow_the_kernel: kernel %s answers %d %d for the "
                "zero-page reads (written pages: %d %d)\n",
                u.release, status[1], status[3], status[0], status[2]);
        ck_assert_int_eq(status[0], e.home);
        ck_assert_int_eq(status[2], e.home);
        for (size_t p = 0; p < 4; p++) {
                if (status[p] == e.home)
                        there++;
                else if (status[p] == -ENOENT)
                        absent++;
                else
                        failed++;
        }
        act = migrate(0, 4 * e.ps, e.home);
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &e.vm, &res), failed > 0 ? 1 : 0);
        ck_assert_uint_eq(res.pages_already_there, there);
        ck_assert_uint_eq(res.pages_failed, failed);
        ck_assert_uint_eq(res.pages_absent, absent);
        ck_assert_uint_eq(res.pages_moved, 0);
        env_stop(&e);
}
END_TEST

/* The process is gone: nothing could be done. */
START_TEST(test_migrate_gone_process_is_esrch)
{
        _cleanup_(actuator_freep) struct actuator *a = new_actuator(0);
        struct actuator_result res;
        struct mig_env e;
        struct action act;

        env_start(&e);
        e.model.pid = test_dead_tid();
        act = migrate(0, N_PAGES * e.ps, e.home);
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &e.vm, &res), -ESRCH);
        ck_assert_uint_eq(res.pages_moved, 0);
        ck_assert_uint_eq(res.pages_failed, N_PAGES);
        env_stop(&e);
}
END_TEST

/* The recorded line names the pages and ranges the action came to. The pages are already on the
 * target node, so nothing moves. */
START_TEST(test_migrate_line_names_pages_and_ranges)
{
        _cleanup_(actuator_freep) struct actuator *a = new_actuator(0);
        struct actuator_result res;
        struct mig_env e;
        struct action act;
        const char *line;
        char want[64];

        env_start(&e);
        act = migrate(0, N_PAGES * e.ps, e.home);
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &e.vm, &res), 0);
        ck_assert_uint_eq(res.bytes_requested, N_PAGES * e.ps);
        ck_assert_uint_eq(actuator_recorded(a, &line, 1), 1);
        snprintf(want, sizeof(want), "(%d pages from 0x%" PRIx64 ", 2 ranges)", N_PAGES,
                 (uint64_t)(uintptr_t)e.mem);
        ck_assert_msg(strstr(line, want), "line \"%s\" lacks \"%s\"", line, want);
        ck_assert_ptr_nonnull(strstr(line, "migrate vm 3 cell 0:"));
        act = migrate(60 * e.ps, 8 * e.ps, e.home);
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &e.vm, &res), -EINVAL);
        env_stop(&e);
}
END_TEST

TEST_MAIN("actuator-migrate", test_migrate_whole_cell, test_migrate_small_batches,
          test_migrate_between_nodes, test_migrate_ranges_widen_to_pages_and_cross_regions,
          test_migrate_bad_ranges_touch_nothing, test_migrate_to_missing_node,
          test_migrate_zero_pages_follow_the_kernel, test_migrate_gone_process_is_esrch,
          test_migrate_line_names_pages_and_ranges)
