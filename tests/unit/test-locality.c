/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <check.h>
#include <math.h>
#include <sys/mman.h>

#include "test-util.h"
#include "vnuma/report/locality.h"

START_TEST(test_home_by_majority)
{
        struct residency res = {};
        int nodes[] = {1, 1, 0, -1};

        ck_assert_int_eq(locality_home_node(nodes, 4, &res), 1);
        ck_assert_int_eq(locality_home_node(nodes, 0, &res), -1);
        int unknown[] = {-1, -1};
        ck_assert_int_eq(locality_home_node(unknown, 2, &res), -1);
}
END_TEST

START_TEST(test_home_tie_breaks)
{
        struct residency res = {};
        int nodes[] = {0, 3};

        /* Tie on votes: more of the cell's bytes wins... */
        res.node_bytes[3] = 100;
        res.node_bytes[0] = 10;
        ck_assert_int_eq(locality_home_node(nodes, 2, &res), 3);
        /* ...then the lower node id. */
        res.node_bytes[0] = 100;
        ck_assert_int_eq(locality_home_node(nodes, 2, &res), 0);
        ck_assert_int_eq(locality_home_node(nodes, 2, NULL), 0);
}
END_TEST

START_TEST(test_ratio)
{
        struct residency res = {};
        struct locality cell, total = {.home_node = -1};
        double v = -1;

        res.node_bytes[0] = 3u << 20;
        res.node_bytes[1] = 1u << 20;
        res.not_present_bytes = 100u << 20; /* never counts against locality */
        res.efault_bytes = 7u << 20;
        cell = locality_of_cell(&res, 0);
        ck_assert_uint_eq(cell.local_bytes, 3u << 20);
        ck_assert_uint_eq(cell.present_bytes, 4u << 20);
        ck_assert_int_eq(locality_ratio(&cell, &v), 0);
        ck_assert(fabs(v - 0.75) < 1e-12);
        locality_accumulate(&total, &cell);

        /* A second cell, fully remote: VM locality is byte-weighted, not a mean of ratios. */
        struct residency res2 = {};
        res2.node_bytes[0] = 12u << 20;
        cell = locality_of_cell(&res2, 1);
        ck_assert_uint_eq(cell.local_bytes, 0);
        locality_accumulate(&total, &cell);
        ck_assert_int_eq(locality_ratio(&total, &v), 0);
        ck_assert(fabs(v - 3.0 / 16.0) < 1e-12);

        /* Nothing present: undefined, and the output is untouched. */
        struct residency empty = {.not_present_bytes = 1u << 30};
        cell = locality_of_cell(&empty, 0);
        v = 42;
        ck_assert_int_eq(locality_ratio(&cell, &v), -ENODATA);
        ck_assert(v == 42);
        /* Unknown home node: nothing is local. */
        cell = locality_of_cell(&res, -1);
        ck_assert_uint_eq(cell.local_bytes, 0);
        ck_assert_int_eq(locality_ratio(&cell, &v), 0);
        ck_assert(v == 0.0);
}
END_TEST

START_TEST(test_residency_of_own_memory)
{
        const size_t page = (size_t)sysconf(_SC_PAGESIZE), n = 64;
        struct residency res = {};
        char *mem;

        mem = mmap(NULL, n * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ck_assert_ptr_ne(mem, MAP_FAILED);
        ck_assert_int_eq(madvise(mem, n * page, MADV_NOHUGEPAGE), 0);
        for (size_t i = 0; i < n; i += 2)
                mem[i * page] = 1; /* touch every other page */
        ck_assert_int_eq(residency_scan(getpid(), (uint64_t)(uintptr_t)mem, n * page, page, &res), 0);
        ck_assert_uint_eq(res.scanned_pages, n);
        ck_assert_uint_eq(residency_present_bytes(&res), n / 2 * page);
        ck_assert_uint_eq(res.not_present_bytes, n / 2 * page);
        ck_assert_uint_eq(res.syscalls, 1);
        /* Misaligned input is refused and the accumulator is untouched. */
        ck_assert_int_eq(residency_scan(getpid(), (uint64_t)(uintptr_t)mem + 1, page, page, &res), -EINVAL);
        ck_assert_uint_eq(res.scanned_pages, n);
        munmap(mem, n * page);
}
END_TEST

TEST_MAIN("locality", test_home_by_majority, test_home_tie_breaks, test_ratio, test_residency_of_own_memory)
