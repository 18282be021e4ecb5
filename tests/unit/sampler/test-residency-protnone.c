/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Present pages behind a PROT_NONE pte, per kernel. Kernel NUMA balancing makes a page PROT_NONE
 * to take a hinting fault; mprotect(PROT_NONE) makes the same protnone pte, so the kernel
 * difference shows on any host, one node or many:
 * - 6.0 to 6.4 (Debian 12's 6.1): follow_page() refuses protnone ptes (474098edac26) and returns
 *   no page, so move_pages answers -ENOENT for pages that are there (measured in the lab,
 *   6.1.0-57), as if never touched, and cannot move them either;
 * - 6.5 on (d74943a2f3cd, FOLL_HONOR_NUMA_FAULT; measured on 6.18): it answers their node, and
 *   moves them.
 * The raw answers are asserted for the running kernel; vnumad's residency reader must place the
 * pages on their node on every kernel (pagemap's frame number, src/host/residency.c). */
#include <check.h>
#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "../test-util.h"
#include "vnuma/host/residency.h"

#define N_PAGES 16

static int kernel_version(void)
{
        struct utsname u;
        int major = 0, minor = 0;

        ck_assert_int_eq(uname(&u), 0);
        ck_assert_int_eq(sscanf(u.release, "%d.%d", &major, &minor), 2);
        return major * 100 + minor;
}

/* Written pages, bound to the first node this task may use, then made PROT_NONE. *ret_other is
 * a second node it may use, or -1. */
static uint8_t *protnone_pages(size_t ps, int *ret_node, int *ret_other)
{
        struct bitmask *allowed = numa_get_mems_allowed();
        unsigned long mask;
        uint8_t *mem;
        int node = -1, other = -1;

        for (int n = 0; n <= numa_max_node() && other < 0; n++)
                if (numa_bitmask_isbitset(allowed, (unsigned)n)) {
                        if (node < 0)
                                node = n;
                        else
                                other = n;
                }
        numa_bitmask_free(allowed);
        ck_assert_int_ge(node, 0);
        mem = mmap(NULL, N_PAGES * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ck_assert_ptr_ne(mem, MAP_FAILED);
        ck_assert_int_eq(madvise(mem, N_PAGES * ps, MADV_NOHUGEPAGE), 0);
        mask = 1ul << node;
        ck_assert_int_eq(mbind(mem, N_PAGES * ps, MPOL_BIND, &mask, 64, 0), 0);
        for (size_t p = 0; p < N_PAGES; p++)
                mem[p * ps] = (uint8_t)(p + 1);
        ck_assert_int_eq(mprotect(mem, N_PAGES * ps, PROT_NONE), 0);
        *ret_node = node;
        *ret_other = other;
        return mem;
}

START_TEST(test_protnone_pages_per_kernel)
{
        size_t ps = (size_t)sysconf(_SC_PAGESIZE);
        int status[N_PAGES], nodes[N_PAGES], node, other, kv = kernel_version();
        bool hidden = kv >= 600 && kv < 605;
        void *pages[N_PAGES];
        struct residency r = {};
        uint8_t *mem = protnone_pages(ps, &node, &other);
        int want_raw = hidden ? -ENOENT : node;

        for (size_t p = 0; p < N_PAGES; p++)
                pages[p] = mem + p * ps;
        ck_assert_int_eq(numa_move_pages(0, N_PAGES, pages, NULL, status, 0), 0);
        fprintf(stderr,
                "kernel %d.%02d: move_pages answers %d for a present PROT_NONE page on node %d "
                "(expected %d)\n",
                kv / 100, kv % 100, status[0], node, want_raw);
        for (size_t p = 0; p < N_PAGES; p++)
                ck_assert_int_eq(status[p], want_raw);

        /* vnumad's reader places every page on its node whatever the kernel answered. */
        ck_assert_int_eq(residency_scan(getpid(), (uint64_t)(uintptr_t)mem, N_PAGES * ps, ps, &r), 0);
        fprintf(stderr, "residency: node %d %llu bytes, efault %llu, not present %llu\n", node,
                (unsigned long long)r.node_bytes[node], (unsigned long long)r.efault_bytes,
                (unsigned long long)r.not_present_bytes);
        ck_assert_uint_eq(r.node_bytes[node], N_PAGES * ps);
        ck_assert_uint_eq(residency_present_bytes(&r), N_PAGES * ps);
        ck_assert_uint_eq(r.efault_bytes + r.not_present_bytes + r.other_bytes, 0);

        /* A move to another node: refused (-ENOENT, the page stays) where the query hides it. */
        if (other >= 0) {
                for (size_t p = 0; p < N_PAGES; p++)
                        nodes[p] = other;
                ck_assert_int_ge(numa_move_pages(0, N_PAGES, pages, nodes, status, MPOL_MF_MOVE), 0);
                fprintf(stderr, "kernel %d.%02d: moving it to node %d answers %d (expected %d)\n", kv / 100,
                        kv % 100, other, status[0], hidden ? -ENOENT : other);
                for (size_t p = 0; p < N_PAGES; p++)
                        ck_assert_int_eq(status[p], hidden ? -ENOENT : other);
        } else {
                fprintf(stderr, "one memory node here: the move of PROT_NONE pages is checked in the lab\n");
        }

        /* The pages are intact behind the protection. */
        ck_assert_int_eq(mprotect(mem, N_PAGES * ps, PROT_READ), 0);
        for (size_t p = 0; p < N_PAGES; p++)
                ck_assert_int_eq(mem[p * ps], (uint8_t)(p + 1));
        ck_assert_int_eq(munmap(mem, N_PAGES * ps), 0);
}
END_TEST

TEST_MAIN("residency-protnone", test_protnone_pages_per_kernel)
