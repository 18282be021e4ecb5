/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../test-util.h"
#include "vnuma/basic/log.h"
#include "vnuma/host/topology.h"

#define KIB UINT64_C(1024)

/* Fixture trees live in tests/data; meson passes the directory in VNUMA_TEST_DATA. */
static char *fixture(const char *name)
{
        const char *dir = getenv("VNUMA_TEST_DATA");
        char *path;

        ck_assert_msg(dir, "VNUMA_TEST_DATA is not set");
        ck_assert_int_ge(asprintf(&path, "%s/%s", dir, name), 0);
        return path;
}

static struct host_topology *read_fixture(const char *name)
{
        _cleanup_free_ char *root = fixture(name);
        struct host_topology *t = NULL;

        ck_assert_int_eq(host_topology_read(root, &t), 0);
        ck_assert_ptr_nonnull(t);
        return t;
}

/* The reader must fail with `expected` and leave *ret as it was. */
static void assert_read_fails(const char *root, int expected, const char *what)
{
        struct host_topology *sentinel = (struct host_topology *)(uintptr_t)0x5a5a;
        struct host_topology *t = sentinel;
        int r;

        r = host_topology_read(root, &t);
        ck_assert_msg(r == expected, "%s: got %d, expected %d", what, r, expected);
        ck_assert_msg(t == sentinel, "%s: *ret was written on failure", what);
}

static void assert_cpus(const struct host_node *n, const char *expected)
{
        char buf[128];

        ck_assert_int_eq(idset_format(&n->cpus, buf, sizeof(buf)), 0);
        ck_assert_str_eq(buf, expected);
}

START_TEST(test_one_node)
{
        _cleanup_(host_topology_freep) struct host_topology *t = read_fixture("sysfs-1node");

        ck_assert_uint_eq(t->n_nodes, 1);
        ck_assert_int_eq(t->nodes[0].id, 0);
        assert_cpus(&t->nodes[0], "0-7");
        ck_assert_uint_eq(t->nodes[0].mem_total_bytes, 16303500 * KIB);
        ck_assert_uint_eq(t->nodes[0].mem_free_bytes, 12034876 * KIB);
        ck_assert_int_eq(host_topology_distance(t, 0, 0), 10);
        /* No devices/system/cpu/possible in this tree: n_cpus comes from the node CPU lists. */
        ck_assert_int_eq(t->n_cpus, 8);
        ck_assert_int_eq(host_topology_node_of_cpu(t, 7), 0);
        ck_assert_int_eq(host_topology_node_of_cpu(t, 8), -ENOENT);
        ck_assert_int_eq(host_topology_nearest_cpu_node(t, 0), 0);
}
END_TEST

START_TEST(test_two_nodes)
{
        _cleanup_(host_topology_freep) struct host_topology *t = read_fixture("sysfs-2node");

        ck_assert_uint_eq(t->n_nodes, 2);
        ck_assert_int_eq(t->nodes[0].id, 0);
        ck_assert_int_eq(t->nodes[1].id, 1);
        assert_cpus(&t->nodes[0], "0-7,16-23");
        assert_cpus(&t->nodes[1], "8-15,24-31");
        ck_assert_int_eq(t->n_cpus, 32);
        ck_assert_uint_eq(t->nodes[0].mem_total_bytes, 65288412 * KIB);
        ck_assert_uint_eq(t->nodes[0].mem_free_bytes, 61020344 * KIB);
        ck_assert_uint_eq(t->nodes[1].mem_total_bytes, 66055896 * KIB);
        ck_assert_uint_eq(t->nodes[1].mem_free_bytes, 63912780 * KIB);
        ck_assert_int_eq(host_topology_distance(t, 0, 0), 10);
        ck_assert_int_eq(host_topology_distance(t, 0, 1), 21);
        ck_assert_int_eq(host_topology_distance(t, 1, 0), 21);
        ck_assert_int_eq(host_topology_distance(t, 1, 1), 10);
        ck_assert_int_eq(host_topology_node_of_cpu(t, 0), 0);
        ck_assert_int_eq(host_topology_node_of_cpu(t, 8), 1);
        ck_assert_int_eq(host_topology_node_of_cpu(t, 23), 0);
        ck_assert_int_eq(host_topology_node_of_cpu(t, 24), 1);
        ck_assert_int_eq(host_topology_node_of_cpu(t, 32), -ENOENT);
        ck_assert_int_eq(host_topology_node_of_cpu(t, -1), -ENOENT);
}
END_TEST

START_TEST(test_node_of_thread)
{
        _cleanup_(host_topology_freep) struct host_topology *t = read_fixture("sysfs-2node");
        struct idset aff;

        /* Confined to node 1's CPUs: node 1, whatever CPU it last ran on. */
        ck_assert_int_eq(idset_parse("8-15,24-31", &aff), 0);
        ck_assert_int_eq(host_topology_node_of_thread(t, &aff, 3), 1);
        ck_assert_int_eq(idset_parse("24", &aff), 0);
        ck_assert_int_eq(host_topology_node_of_thread(t, &aff, 0), 1);
        /* Free to run on both nodes: the last CPU decides. */
        ck_assert_int_eq(idset_parse("0-31", &aff), 0);
        ck_assert_int_eq(host_topology_node_of_thread(t, &aff, 3), 0);
        ck_assert_int_eq(host_topology_node_of_thread(t, &aff, 9), 1);
        ck_assert_int_eq(host_topology_node_of_thread(t, NULL, 20), 0);
        ck_assert_int_eq(host_topology_node_of_thread(t, &aff, 99), -ENOENT);
        /* Allowed on both nodes' first halves, last seen outside them (it slept through the
         * change): unknown, not its old node. */
        ck_assert_int_eq(idset_parse("0-3,8-11", &aff), 0);
        ck_assert_int_eq(host_topology_node_of_thread(t, &aff, 9), 1);
        ck_assert_int_eq(host_topology_node_of_thread(t, &aff, 20), -ENOENT);
}
END_TEST

START_TEST(test_four_sparse_nodes)
{
        _cleanup_(host_topology_freep) struct host_topology *t = read_fixture("sysfs-4node-sparse");
        static const int ids[] = {0, 1, 3, 6};
        /* Row = from, column = to, in id order 0,1,3,6. 1->6 and 6->1 differ on purpose. */
        static const int dist[4][4] = {
                {10, 21, 31, 41},
                {21, 10, 21, 32},
                {31, 21, 10, 20},
                {41, 31, 20, 10},
        };

        ck_assert_uint_eq(t->n_nodes, 4);
        for (unsigned i = 0; i < 4; i++) {
                ck_assert_int_eq(t->nodes[i].id, ids[i]);
                ck_assert_int_eq(host_topology_node_index(t, ids[i]), (int)i);
                for (unsigned j = 0; j < 4; j++) {
                        ck_assert_int_eq(host_topology_distance(t, ids[i], ids[j]), dist[i][j]);
                        ck_assert_int_eq(t->distance[i * 4 + j], dist[i][j]);
                }
        }
        ck_assert_int_eq(host_topology_node_index(t, 2), -ENOENT);
        ck_assert_int_eq(host_topology_node_index(t, 5), -ENOENT);
        ck_assert_int_eq(host_topology_distance(t, 0, 2), -ENOENT);
        ck_assert_int_eq(host_topology_distance(t, 7, 0), -ENOENT);

        assert_cpus(&t->nodes[0], "0-3,12-15");
        assert_cpus(&t->nodes[1], "4-7,16-19");
        assert_cpus(&t->nodes[2], "8-11,20-23");
        ck_assert(idset_is_empty(&t->nodes[3].cpus));
        /* cpu/possible says 0-31 although only 0-23 are online. */
        ck_assert_int_eq(t->n_cpus, 32);

        ck_assert_uint_eq(t->nodes[2].mem_total_bytes, 66055896 * KIB);
        ck_assert_uint_eq(t->nodes[2].mem_free_bytes, 65011400 * KIB);
        ck_assert_uint_eq(t->nodes[3].mem_total_bytes, 134217728 * KIB);
        ck_assert_uint_eq(t->nodes[3].mem_free_bytes, 134103040 * KIB);

        ck_assert_int_eq(host_topology_node_of_cpu(t, 3), 0);
        ck_assert_int_eq(host_topology_node_of_cpu(t, 12), 0);
        ck_assert_int_eq(host_topology_node_of_cpu(t, 19), 1);
        ck_assert_int_eq(host_topology_node_of_cpu(t, 8), 3);
        ck_assert_int_eq(host_topology_node_of_cpu(t, 23), 3);
        ck_assert_int_eq(host_topology_node_of_cpu(t, 24), -ENOENT);

        /* The CPU-less node 6 sits behind socket 3 (20), not 1 (31) or 0 (41). */
        ck_assert_int_eq(host_topology_nearest_cpu_node(t, 6), 3);
        ck_assert_int_eq(host_topology_nearest_cpu_node(t, 1), 1);
        ck_assert_int_eq(host_topology_nearest_cpu_node(t, 2), -ENOENT);
}
END_TEST

/* Equal distances pick the lower id; a topology without CPU nodes has no answer. */
START_TEST(test_nearest_tie_break)
{
        struct host_node nodes[4] = {
                {.id = 0},
                {.id = 2},
                {.id = 4},
                {.id = 5},
        };
        int distance[16] = {
                10, 20, 20, 30, /**/ 20, 10, 20, 30, /**/ 20, 20, 10, 30, /**/ 30, 25, 25, 10,
        };
        struct host_topology t = {.n_nodes = 4, .nodes = nodes, .distance = distance, .n_cpus = 4};

        ck_assert_int_eq(host_topology_nearest_cpu_node(&t, 5), -ENOENT);
        idset_add(&nodes[1].cpus, 0);
        idset_add(&nodes[2].cpus, 1);
        /* Node 5 is 25 from both 2 and 4. */
        ck_assert_int_eq(host_topology_nearest_cpu_node(&t, 5), 2);
        /* Node 0 is 20 from both as well. */
        ck_assert_int_eq(host_topology_nearest_cpu_node(&t, 0), 2);
        idset_add(&nodes[3].cpus, 2);
        ck_assert_int_eq(host_topology_nearest_cpu_node(&t, 5), 5);
}
END_TEST

START_TEST(test_broken_fixtures)
{
        static const struct {
                const char *name;
                int error;
        } cases[] = {
                {"sysfs-bad-distance", -EBADMSG}, /* node1/distance has 3 entries for 2 nodes */
                {"sysfs-bad-meminfo", -EBADMSG},  /* node1/meminfo MemTotal is not a number */
                {"sysfs-bad-cpulist", -EBADMSG},  /* node1/cpulist ends in "24-" */
                {"sysfs-no-online", -ENOENT},     /* devices/system/node/online is missing */
                {"sysfs-missing-node", -ENOENT},  /* online lists node 1, node1/ is missing */
                {"sysfs-does-not-exist", -ENOENT},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *root = fixture(cases[i].name);
                assert_read_fails(root, cases[i].error, cases[i].name);
        }
}
END_TEST

/* Small variations are built in a temporary tree rather than kept as more fixture copies. */
static char *tmp_root;

static void write_file(const char *rel, const char *content)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_fclose_ FILE *f = NULL;

        ck_assert_int_ge(asprintf(&path, "%s/%s", tmp_root, rel), 0);
        for (char *slash = strchr(path + strlen(tmp_root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
                *slash = '\0';
                ck_assert(mkdir(path, 0755) == 0 || errno == EEXIST);
                *slash = '/';
        }
        f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_ge(fputs(content, f), 0);
}

static void write_node(int id, const char *cpulist, const char *distance, const char *meminfo)
{
        char rel[128];

        snprintf(rel, sizeof(rel), "devices/system/node/node%d/cpulist", id);
        write_file(rel, cpulist);
        snprintf(rel, sizeof(rel), "devices/system/node/node%d/distance", id);
        write_file(rel, distance);
        snprintf(rel, sizeof(rel), "devices/system/node/node%d/meminfo", id);
        write_file(rel, meminfo);
}

static const char good_meminfo1[] = "Node 1 MemTotal:        1048576 kB\n"
                                    "Node 1 MemFree:          524288 kB\n"
                                    "Node 1 HugePages_Total:     0\n";

static void write_base_tree(void)
{
        write_file("devices/system/node/online", "0-1\n");
        write_node(0, "0-1\n", "10 20\n",
                   "Node 0 MemTotal:        2097152 kB\nNode 0 MemFree:         1048576 kB\n");
        write_node(1, "2-3\n", "20 10\n", good_meminfo1);
}

static void tmp_tree_setup(void)
{
        ck_assert_int_eq(test_make_tmpdir("vnuma-topology", &tmp_root), 0);
        write_base_tree();
}

/* The same directory, empty again. */
static void tmp_tree_empty(void)
{
        ck_assert_int_eq(test_remove_tree(tmp_root), 0);
        ck_assert_int_eq(mkdir(tmp_root, 0700), 0);
}

static void tmp_tree_teardown(void)
{
        (void)test_remove_tree(tmp_root);
        free(tmp_root);
        tmp_root = NULL;
}

START_TEST(test_tmp_base_tree)
{
        struct host_topology *t = NULL;

        /* The base tree is valid, so each variation below fails because of its one change. */
        ck_assert_int_eq(host_topology_read(tmp_root, &t), 0);
        ck_assert_uint_eq(t->n_nodes, 2);
        ck_assert_int_eq(t->n_cpus, 4);
        ck_assert_uint_eq(t->nodes[1].mem_free_bytes, 524288 * KIB);
        host_topology_free(t);
        host_topology_free(NULL);
}
END_TEST

START_TEST(test_bad_variations)
{
        static const struct {
                const char *file, *content;
                int error;
        } cases[] = {
                {"devices/system/node/online", "\n", -EBADMSG},
                {"devices/system/node/online", "0-1,x\n", -EBADMSG},
                {"devices/system/node/node1/distance", "20\n", -EBADMSG},
                {"devices/system/node/node1/distance", "20 0\n", -EBADMSG},
                {"devices/system/node/node1/distance", "20 256\n", -EBADMSG},
                {"devices/system/node/node1/distance", "20 -10\n", -EBADMSG},
                {"devices/system/node/node1/distance", "20 1O\n", -EBADMSG},
                {"devices/system/node/node1/meminfo", "", -EBADMSG},
                {"devices/system/node/node1/meminfo", "Node 1 MemTotal:        1048576 kB\n", -EBADMSG},
                {"devices/system/node/node1/meminfo",
                 "Node 0 MemTotal:        1048576 kB\nNode 0 MemFree:          524288 kB\n", -EBADMSG},
                {"devices/system/node/node1/meminfo",
                 "Node 1 MemTotal:        1048576 MB\nNode 1 MemFree:          524288 kB\n", -EBADMSG},
                {"devices/system/node/node1/meminfo",
                 "Node 1 MemTotal:        1048576 kB\nNode 1 MemFree:         2097152 kB\n", -EBADMSG},
                {"devices/system/node/node1/meminfo",
                 "Node 1 MemTotal: 18446744073709551615 kB\nNode 1 MemFree: 1 kB\n", -EBADMSG},
                {"devices/system/node/node1/meminfo", "MemTotal: 1 kB\nMemFree: 1 kB\n", -EBADMSG},
                {"devices/system/node/node1/cpulist", "1-2\n", -EBADMSG}, /* CPU 1 in two nodes */
                {"devices/system/cpu/possible", "0-3,\n", -EBADMSG},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *what = NULL;

                ck_assert_int_ge(asprintf(&what, "%s \"%s\"", cases[i].file, cases[i].content), 0);
                write_file(cases[i].file, cases[i].content);
                assert_read_fails(tmp_root, cases[i].error, what);
                tmp_tree_empty();
                write_base_tree();
        }
}
END_TEST

START_TEST(test_cpuless_everywhere)
{
        write_node(0, "\n", "10 20\n",
                   "Node 0 MemTotal:        2097152 kB\nNode 0 MemFree:         1048576 kB\n");
        write_node(1, "\n", "20 10\n", good_meminfo1);
        assert_read_fails(tmp_root, -EBADMSG, "no node has CPUs");
}
END_TEST

START_TEST(test_offline_node0_distance_layout)
{
        struct host_topology *t = NULL;

        /* With node 0 offline the kernel starts each row with a space. */
        tmp_tree_empty();
        write_file("devices/system/node/online", "1,4\n");
        write_node(1, "0-1\n", " 10 31\n", good_meminfo1);
        write_node(4, "\n", " 31 10\n",
                   "Node 4 MemTotal:        4194304 kB\nNode 4 MemFree:         4194304 kB\n");
        write_file("devices/system/cpu/possible", "0-63\n");
        ck_assert_int_eq(host_topology_read(tmp_root, &t), 0);
        ck_assert_uint_eq(t->n_nodes, 2);
        ck_assert_int_eq(host_topology_distance(t, 4, 1), 31);
        ck_assert_int_eq(host_topology_nearest_cpu_node(t, 4), 1);
        ck_assert_int_eq(t->n_cpus, 64);
        ck_assert_uint_eq(t->nodes[1].mem_free_bytes, 4194304 * KIB);
        host_topology_free(t);
}
END_TEST

/* This machine: at least one node, node 0 with CPUs and memory. */
START_TEST(test_real_sysfs)
{
        _cleanup_(host_topology_freep) struct host_topology *t = NULL;
        int idx;

        ck_assert_int_eq(host_topology_read(NULL, &t), 0);
        ck_assert_uint_ge(t->n_nodes, 1);
        idx = host_topology_node_index(t, 0);
        ck_assert_int_ge(idx, 0);
        ck_assert(!idset_is_empty(&t->nodes[idx].cpus));
        ck_assert_uint_gt(t->nodes[idx].mem_total_bytes, 0);
        ck_assert_uint_le(t->nodes[idx].mem_free_bytes, t->nodes[idx].mem_total_bytes);
        ck_assert_int_gt(t->n_cpus, idset_next(&t->nodes[idx].cpus, 0));
        ck_assert_int_eq(host_topology_distance(t, 0, 0), 10);
        ck_assert_int_eq(host_topology_node_of_cpu(t, idset_next(&t->nodes[idx].cpus, 0)), 0);

        /* "/sys" spelled out reads the same. */
        {
                _cleanup_(host_topology_freep) struct host_topology *u = NULL;

                ck_assert_int_eq(host_topology_read("/sys", &u), 0);
                ck_assert_uint_eq(u->n_nodes, t->n_nodes);
                ck_assert_int_eq(u->n_cpus, t->n_cpus);
        }
}
END_TEST

static Suite *topology_suite(void)
{
        Suite *s = suite_create("topology");
        TCase *tc = tcase_create("fixtures");
        TCase *tmp = tcase_create("variations");
        TCase *real = tcase_create("real");

        tcase_add_test(tc, test_one_node);
        tcase_add_test(tc, test_two_nodes);
        tcase_add_test(tc, test_node_of_thread);
        tcase_add_test(tc, test_four_sparse_nodes);
        tcase_add_test(tc, test_nearest_tie_break);
        tcase_add_test(tc, test_broken_fixtures);
        suite_add_tcase(s, tc);

        tcase_add_checked_fixture(tmp, tmp_tree_setup, tmp_tree_teardown);
        tcase_add_test(tmp, test_tmp_base_tree);
        tcase_add_test(tmp, test_bad_variations);
        tcase_add_test(tmp, test_cpuless_everywhere);
        tcase_add_test(tmp, test_offline_node0_distance_layout);
        suite_add_tcase(s, tmp);

        tcase_add_test(real, test_real_sysfs);
        suite_add_tcase(s, real);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(topology_suite());
        int failed;

        /* VNUMA_TEST_DEBUG=1 shows the reader's debug messages, which name the bad input. */
        if (getenv("VNUMA_TEST_DEBUG"))
                log_set_max_level(LOG_DEBUG);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
