/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The performance model: CPU share times memory speed, with the numbers of the lab's 2-node case. */
#include <check.h>
#include <math.h>

#include "test-util.h"
#include "vnuma/model/perf-model.h"

static struct snap_host two_nodes(unsigned cpus_per_node)
{
        struct snap_host h = {.n_nodes = 2};

        for (unsigned i = 0; i < 2; i++) {
                h.node[i].id = (int)i;
                h.node[i].n_cpus = cpus_per_node;
                for (unsigned j = 0; j < 2; j++)
                        h.distance[i][j] = i == j ? 10 : 20;
        }
        return h;
}

START_TEST(test_cpu_share)
{
        ck_assert_double_eq(perf_cpu_share(1, 0), 1.0);
        ck_assert_double_eq(perf_cpu_share(1, 0.5), 1.0);
        ck_assert_double_eq(perf_cpu_share(1, 2), 0.5);
        ck_assert_double_eq(perf_cpu_share(2, 4), 0.5);
}
END_TEST

START_TEST(test_memory_speed_follows_slit)
{
        struct snap_host h = two_nodes(1);
        double local[SNAP_NODES_MAX] = {1, 0}, remote[SNAP_NODES_MAX] = {0, 1},
               half[SNAP_NODES_MAX] = {0.5, 0.5}, none[SNAP_NODES_MAX] = {0};

        ck_assert_double_eq_tol(perf_memory_speed(&h, 0, local), 1.0, 1e-12);
        ck_assert_double_eq_tol(perf_memory_speed(&h, 0, remote), 0.5, 1e-12); /* distance 20 */
        ck_assert_double_eq_tol(perf_memory_speed(&h, 0, half), 0.75, 1e-12);
        ck_assert_double_eq_tol(perf_memory_speed(&h, 1, none), 1.0, 1e-12);
}
END_TEST

/* The case: 2 busy vCPUs, one per cell, all memory on node 0, one CPU per node. Packed on
 * node 0 they are fully local and share one CPU; split, cell 1 runs alone on node 1 with its
 * memory remote until it moves, then local. Packing is the worst of the three, as measured. */
START_TEST(test_packing_loses_to_splitting)
{
        struct snap_host h = two_nodes(1);
        double on0[SNAP_NODES_MAX] = {1, 0}, on1[SNAP_NODES_MAX] = {0, 1};
        double packed = 2 * perf_cell_work(&h, 0, 2.0, 1.0, on0);
        double split_remote = perf_cell_work(&h, 0, 1.0, 1.0, on0) + perf_cell_work(&h, 1, 1.0, 1.0, on0);
        double split_local = perf_cell_work(&h, 0, 1.0, 1.0, on0) + perf_cell_work(&h, 1, 1.0, 1.0, on1);

        ck_assert_double_eq_tol(packed, 1.0, 1e-12);
        ck_assert_double_eq_tol(split_remote, 1.5, 1e-12);
        ck_assert_double_eq_tol(split_local, 2.0, 1e-12);
        /* One busy cell and one idle: together on node 0 costs nothing. */
        ck_assert_double_eq_tol(perf_cell_work(&h, 0, 1.05, 1.0, on0) +
                                        perf_cell_work(&h, 0, 1.05, 0.05, on0),
                                1.05 / 1.05, 1e-12);
}
END_TEST

TEST_MAIN("perf-model", test_cpu_share, test_memory_speed_follows_slit, test_packing_loses_to_splitting)
