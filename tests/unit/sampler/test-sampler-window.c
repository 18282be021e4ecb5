/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Scan window advance and wrap, chunk map aggregation, and cell offset -> host range geometry. */
#include <check.h>

#include "../test-util.h"
#include "sampler-window.h"

#define MiB (UINT64_C(1) << 20)

START_TEST(test_window_next)
{
        struct scan_window w;

        scan_window_next(10, 0, 4, &w);
        ck_assert_uint_eq(w.first, 0);
        ck_assert_uint_eq(w.n, 4);
        ck_assert_uint_eq(w.next, 4);
        ck_assert(!w.wrapped);

        scan_window_next(10, 8, 4, &w); /* 8, 9, then 0, 1 */
        ck_assert_uint_eq(w.first, 8);
        ck_assert_uint_eq(w.n, 4);
        ck_assert_uint_eq(w.next, 2);
        ck_assert(w.wrapped);

        scan_window_next(10, 6, 4, &w); /* ends exactly at the end: not wrapped */
        ck_assert_uint_eq(w.next, 0);
        ck_assert(!w.wrapped);

        scan_window_next(10, 3, 0, &w); /* at least one chunk */
        ck_assert_uint_eq(w.n, 1);
        ck_assert_uint_eq(w.next, 4);

        scan_window_next(10, 3, 25, &w); /* at most the cell, once */
        ck_assert_uint_eq(w.n, 10);
        ck_assert_uint_eq(w.first, 3);
        ck_assert_uint_eq(w.next, 3);

        scan_window_next(10, 12, 2, &w); /* stale cursor (cell shrank): start over */
        ck_assert_uint_eq(w.first, 0);
        ck_assert_uint_eq(w.next, 2);

        scan_window_next(0, 5, 2, &w);
        ck_assert_uint_eq(w.n, 0);
}
END_TEST

START_TEST(test_window_covers_evenly)
{
        /* 7 chunks, 3 a period: 7 periods visit every chunk exactly 3 times. */
        unsigned seen[7] = {};
        uint64_t cursor = 0;

        for (int period = 0; period < 7; period++) {
                struct scan_window w;

                scan_window_next(7, cursor, 3, &w);
                ck_assert_uint_eq(w.n, 3);
                for (uint64_t i = 0; i < w.n; i++)
                        seen[(w.first + i) % 7]++;
                cursor = w.next;
        }
        ck_assert_uint_eq(cursor, 0);
        for (int i = 0; i < 7; i++)
                ck_assert_uint_eq(seen[i], 3);
}
END_TEST

START_TEST(test_window_share)
{
        /* 256 MiB for a 1 GiB VM: a 512 MiB cell gets half, 64 chunks of 2 MiB. */
        ck_assert_uint_eq(scan_window_share(256 * MiB, 1024 * MiB, 512 * MiB, 2 * MiB), 64);
        ck_assert_uint_eq(scan_window_share(256 * MiB, 512 * MiB, 512 * MiB, 2 * MiB), 128);
        /* Rounds up, never 0, never more than the cell. */
        ck_assert_uint_eq(scan_window_share(256 * MiB, 1024 * MiB, 3 * MiB, 2 * MiB), 1);
        ck_assert_uint_eq(scan_window_share(4 * MiB, 8 * MiB, 5 * MiB, 2 * MiB), 2);
        ck_assert_uint_eq(scan_window_share(256 * MiB, 100 * MiB, 100 * MiB, 2 * MiB), 50);
        ck_assert_uint_eq(scan_window_share(256 * MiB, 0, 0, 2 * MiB), 0);
        /* 4 TiB guest: no overflow in window * cell. */
        ck_assert_uint_eq(scan_window_share(256 * MiB, UINT64_C(4) << 40, UINT64_C(2) << 40, 2 * MiB), 64);
}
END_TEST

START_TEST(test_chunk_summarize)
{
        struct residency r = {};
        uint64_t present;
        int node;

        chunk_summarize(&r, &node, &present);
        ck_assert_int_eq(node, CHUNK_NODE_NONE);
        ck_assert_uint_eq(present, 0);

        r.node_bytes[1] = 3 * 4096;
        r.node_bytes[0] = 4096;
        r.not_present_bytes = 100 * 4096;
        r.efault_bytes = 4096;
        chunk_summarize(&r, &node, &present);
        ck_assert_int_eq(node, 1);
        ck_assert_uint_eq(present, 4 * 4096);

        r.node_bytes[0] = 3 * 4096; /* tie: lowest id */
        chunk_summarize(&r, &node, &present);
        ck_assert_int_eq(node, 0);
        ck_assert_uint_eq(present, 6 * 4096);
}
END_TEST

START_TEST(test_chunk_map_aggregation)
{
        struct chunk_map m;

        ck_assert_int_eq(chunk_map_init(&m, 9 * MiB, 3 * MiB), -EINVAL);
        ck_assert_int_eq(chunk_map_init(&m, 9 * MiB, 2 * MiB), 0);
        ck_assert_uint_eq(m.n_chunks, 5);
        ck_assert_uint_eq(chunk_map_chunk_len(&m, 0), 2 * MiB);
        ck_assert_uint_eq(chunk_map_chunk_len(&m, 4), 1 * MiB);
        ck_assert_uint_eq(chunk_map_chunk_len(&m, 5), 0);
        /* Nothing seen yet: all unknown, reported as not present. */
        ck_assert_uint_eq(m.unknown_bytes, 9 * MiB);
        ck_assert_uint_eq(chunk_map_not_present_bytes(&m), 9 * MiB);
        ck_assert_int_eq(m.node[2], CHUNK_NODE_UNKNOWN);

        chunk_map_set(&m, 0, 0, 2 * MiB);
        chunk_map_set(&m, 1, 1, 1 * MiB);
        chunk_map_set(&m, 4, 1, 1 * MiB);
        chunk_map_set(&m, 3, CHUNK_NODE_NONE, 0);
        ck_assert_uint_eq(m.node_bytes[0], 2 * MiB);
        ck_assert_uint_eq(m.node_bytes[1], 2 * MiB);
        ck_assert_uint_eq(m.unknown_bytes, 2 * MiB); /* chunk 2 */
        ck_assert_uint_eq(chunk_map_not_present_bytes(&m), 5 * MiB);

        /* The window comes round again: chunk 0 moved to node 1 and lost half its pages. */
        chunk_map_set(&m, 0, 1, 1 * MiB);
        ck_assert_uint_eq(m.node_bytes[0], 0);
        ck_assert_uint_eq(m.node_bytes[1], 3 * MiB);
        /* Chunk 1 emptied. */
        chunk_map_set(&m, 1, 1, 0);
        ck_assert_int_eq(m.node[1], CHUNK_NODE_NONE);
        ck_assert_uint_eq(m.node_bytes[1], 2 * MiB);
        ck_assert_uint_eq(chunk_map_not_present_bytes(&m), 7 * MiB);
        /* Node ids residency cannot tell apart count as not present. */
        chunk_map_set(&m, 2, RESIDENCY_MAX_NODES, 2 * MiB);
        ck_assert_int_eq(m.node[2], CHUNK_NODE_NONE);
        ck_assert_uint_eq(m.unknown_bytes, 0);
        /* Out of range indexes are ignored. */
        chunk_map_set(&m, 99, 0, 2 * MiB);
        ck_assert_uint_eq(m.node_bytes[0], 0);
        chunk_map_done(&m);
        chunk_map_done(&m); /* idempotent */
}
END_TEST

START_TEST(test_chunk_map_note_moved)
{
        struct chunk_map m;

        ck_assert_int_eq(chunk_map_init(&m, 8 * MiB, 2 * MiB), 0);
        chunk_map_set(&m, 0, 0, 2 * MiB);
        chunk_map_set(&m, 1, 0, 1 * MiB);
        chunk_map_set(&m, 2, 0, 2 * MiB);
        chunk_map_set(&m, 3, CHUNK_NODE_NONE, 0);

        /* Chunk 0 fully, chunk 1 half: both move; present bytes stay. */
        ck_assert_uint_eq(chunk_map_note_moved(&m, 0, 3 * MiB, 1), 2);
        ck_assert_int_eq(m.node[0], 1);
        ck_assert_int_eq(m.node[1], 1);
        ck_assert_uint_eq(m.node_bytes[1], 3 * MiB);
        ck_assert_uint_eq(m.node_bytes[0], 2 * MiB);
        /* Less than half of chunk 2 covered: it stays. Empty chunk 3 stays empty. */
        ck_assert_uint_eq(chunk_map_note_moved(&m, 5 * MiB + 4096, 3 * MiB, 1), 0);
        ck_assert_int_eq(m.node[2], 0);
        ck_assert_int_eq(m.node[3], CHUNK_NODE_NONE);
        /* Past the end, a bad node, or a length running over: clamped or ignored. */
        ck_assert_uint_eq(chunk_map_note_moved(&m, 9 * MiB, 2 * MiB, 1), 0);
        ck_assert_uint_eq(chunk_map_note_moved(&m, 0, 2 * MiB, -1), 0);
        ck_assert_uint_eq(chunk_map_note_moved(&m, 4 * MiB, UINT64_MAX, 1), 1);
        ck_assert_uint_eq(m.node_bytes[1], 5 * MiB);
        ck_assert_uint_eq(m.node_bytes[0], 0);
        chunk_map_done(&m);

        /* Unknown chunks stay unknown: moving says nothing about what is present. */
        ck_assert_int_eq(chunk_map_init(&m, 4 * MiB, 2 * MiB), 0);
        ck_assert_uint_eq(chunk_map_note_moved(&m, 0, 4 * MiB, 1), 0);
        ck_assert_int_eq(m.node[0], CHUNK_NODE_UNKNOWN);
        chunk_map_done(&m);
}
END_TEST

struct pieces {
        unsigned n;
        struct cell_piece p[8];
};

static int collect(const struct cell_piece *p, void *userdata)
{
        struct pieces *ps = userdata;

        ck_assert_uint_lt(ps->n, 8);
        ps->p[ps->n++] = *p;
        return 0;
}

static int fail_second(const struct cell_piece *p, void *userdata)
{
        unsigned *calls = userdata;
        return ++*calls == 2 ? -ESRCH : 0;
}

START_TEST(test_cell_geometry)
{
        struct guest_region regions[] = {
                {.size_bytes = 3 * MiB, .page_size = 4096, .hva_start = 0x100000000},
                {.size_bytes = 4 * MiB, .page_size = 2 * MiB, .hva_start = 0x200000000}, /* hugetlbfs */
                {.size_bytes = 1 * MiB, .page_size = 4096, .hva_start = 0x300000000},    /* pc-dimm */
        };
        struct guest_cell cell = {.id = 0, .size_bytes = 8 * MiB, .n_regions = 3, .regions = regions};
        struct pieces ps = {};
        unsigned calls = 0;

        ck_assert_uint_eq(cell_chunk_bytes(&cell, 1 * MiB), 2 * MiB);
        ck_assert_uint_eq(cell_chunk_bytes(&cell, 4 * MiB), 4 * MiB);

        /* [2M, 4M): the last MiB of region 0 and the first huge page of region 1 (it starts at
         * cell offset 3M, so the page at 3M..5M goes with this range). */
        ck_assert_int_eq(cell_for_each_piece(&cell, 2 * MiB, 2 * MiB, collect, &ps), 0);
        ck_assert_uint_eq(ps.n, 2);
        ck_assert_uint_eq(ps.p[0].hva, 0x100000000 + 2 * MiB);
        ck_assert_uint_eq(ps.p[0].length, 1 * MiB);
        ck_assert_uint_eq(ps.p[0].page_size, 4096);
        ck_assert_uint_eq(ps.p[1].hva, 0x200000000);
        ck_assert_uint_eq(ps.p[1].length, 2 * MiB);
        ck_assert_uint_eq(ps.p[1].page_size, 2 * MiB);

        /* [4M, 6M): the huge page starting at 5M only; no page is counted twice. */
        ps = (struct pieces){};
        ck_assert_int_eq(cell_for_each_piece(&cell, 4 * MiB, 2 * MiB, collect, &ps), 0);
        ck_assert_uint_eq(ps.n, 1);
        ck_assert_uint_eq(ps.p[0].hva, 0x200000000 + 2 * MiB);
        ck_assert_uint_eq(ps.p[0].length, 2 * MiB);

        /* [6M, 8M): nothing starts in region 1 any more; all of region 2 (the dimm). */
        ps = (struct pieces){};
        ck_assert_int_eq(cell_for_each_piece(&cell, 6 * MiB, 2 * MiB, collect, &ps), 0);
        ck_assert_uint_eq(ps.n, 1);
        ck_assert_uint_eq(ps.p[0].hva, 0x300000000);
        ck_assert_uint_eq(ps.p[0].length, 1 * MiB);

        /* The whole cell: every byte exactly once. */
        ps = (struct pieces){};
        ck_assert_int_eq(cell_for_each_piece(&cell, 0, 8 * MiB, collect, &ps), 0);
        ck_assert_uint_eq(ps.n, 3);
        ck_assert_uint_eq(ps.p[0].length + ps.p[1].length + ps.p[2].length, 8 * MiB);

        /* Past the end: nothing. Errors stop the walk. */
        ps = (struct pieces){};
        ck_assert_int_eq(cell_for_each_piece(&cell, 8 * MiB, 2 * MiB, collect, &ps), 0);
        ck_assert_uint_eq(ps.n, 0);
        ck_assert_int_eq(cell_for_each_piece(&cell, 0, 8 * MiB, fail_second, &calls), -ESRCH);
        ck_assert_uint_eq(calls, 2);
}
END_TEST

TEST_MAIN("sampler-window", test_window_next, test_window_covers_evenly, test_window_share,
          test_chunk_summarize, test_chunk_map_aggregation, test_chunk_map_note_moved, test_cell_geometry)
