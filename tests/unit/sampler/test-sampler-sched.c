/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hinting-fault statistics: parsing the kernel 6.1 sched text and turning it into deltas. */
#include <check.h>

#include "../test-util.h"
#include "sampler-sched.h"

static int parse_fixture(const char *rel, struct sched_numa_faults *f, unsigned *line)
{
        _cleanup_free_ char *text = test_read_fixture(rel);
        return sched_numa_faults_parse(text, f, line);
}

START_TEST(test_parse_6_1)
{
        struct sched_numa_faults f;
        unsigned line = 0;

        ck_assert_int_eq(parse_fixture("sampler/sched/vcpu-6.1.txt", &f, &line), 0);
        ck_assert(f.have_scan_seq);
        ck_assert_uint_eq(f.scan_seq, 17);
        ck_assert_uint_eq(f.n_nodes, 2);
        ck_assert_int_eq(f.node[0].node, 0);
        ck_assert_uint_eq(f.node[0].task_private, 41);
        ck_assert_uint_eq(f.node[0].task_shared, 7);
        ck_assert_uint_eq(f.node[0].group_private, 388);
        ck_assert_uint_eq(f.node[0].group_shared, 61);
        ck_assert_int_eq(f.node[1].node, 1);
        ck_assert_uint_eq(f.node[1].task_private, 1012);
        ck_assert_uint_eq(f.node[1].task_shared, 127);
        ck_assert_uint_eq(f.node[1].group_private, 3954);
        ck_assert_uint_eq(f.node[1].group_shared, 517);
}
END_TEST

/* Captured verbatim in contrib/lab (Debian 6.1.0-56, 2 nodes, numa_balancing=1) from `cat`. */
START_TEST(test_parse_captured)
{
        struct sched_numa_faults f;

        ck_assert_int_eq(parse_fixture("sampler/sched/lab-6.1.0-56-cat.txt", &f, NULL), 0);
        ck_assert(f.have_scan_seq);
        ck_assert_uint_eq(f.scan_seq, 0);
        ck_assert_uint_eq(f.n_nodes, 2);
        ck_assert_int_eq(f.node[1].node, 1);
        ck_assert_uint_eq(f.node[1].task_private + f.node[1].task_shared, 0);
}
END_TEST

START_TEST(test_parse_sparse_and_absent)
{
        struct sched_numa_faults f;

        ck_assert_int_eq(parse_fixture("sampler/sched/sparse-nodes.txt", &f, NULL), 0);
        ck_assert_uint_eq(f.n_nodes, 4);
        ck_assert_int_eq(f.node[2].node, 4);
        ck_assert_uint_eq(f.node[2].task_private, 9);
        ck_assert_int_eq(f.node[3].node, 5);

        /* Without NUMA balancing statistics the file parses and has no nodes. */
        ck_assert_int_eq(parse_fixture("sampler/sched/no-numa.txt", &f, NULL), 0);
        ck_assert_uint_eq(f.n_nodes, 0);
        ck_assert(!f.have_scan_seq);

        /* Lines that merely contain the words are not numa_faults lines. */
        ck_assert_int_eq(
                sched_numa_faults_parse("total_numa_faults    :   3\nnuma_faults_locality x\n", &f, NULL),
                0);
        ck_assert_uint_eq(f.n_nodes, 0);
}
END_TEST

START_TEST(test_parse_malformed)
{
        static const struct {
                const char *file;
                unsigned line;
        } bad[] = {
                {"sampler/sched/bad-number.txt", 33},         {"sampler/sched/bad-missing-field.txt", 33},
                {"sampler/sched/bad-duplicate-node.txt", 33}, {"sampler/sched/bad-key-order.txt", 33},
                {"sampler/sched/bad-extra-field.txt", 33},    {"sampler/sched/bad-negative-node.txt", 33},
                {"sampler/sched/bad-overflow.txt", 33},       {"sampler/sched/bad-scan-seq.txt", 27},
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct sched_numa_faults f = {.n_nodes = 99};
                unsigned line = 0;

                ck_assert_msg(parse_fixture(bad[i].file, &f, &line) == -EBADMSG, "%s parsed", bad[i].file);
                ck_assert_msg(line == bad[i].line, "%s: line %u, expected %u", bad[i].file, line,
                              bad[i].line);
                ck_assert_uint_eq(f.n_nodes, 99); /* untouched on failure */
        }
}
END_TEST

START_TEST(test_parse_malformed_inline)
{
        struct sched_numa_faults f;
        unsigned line = 0;

        ck_assert_int_eq(sched_numa_faults_parse("a\nnuma_faults\n", &f, &line), -EBADMSG);
        ck_assert_uint_eq(line, 2);
        ck_assert_int_eq(sched_numa_faults_parse("numa_faults node=0 task_private=1 task_shared=2 "
                                                 "group_private=3 group_shared=\n",
                                                 &f, &line),
                         -EBADMSG);
        ck_assert_uint_eq(line, 1);
        ck_assert_int_eq(
                sched_numa_faults_parse("x\ny\nmm->numa_scan_seq : 1\nmm->numa_scan_seq : 2\n", &f, &line),
                -EBADMSG);
        ck_assert_uint_eq(line, 4);
        ck_assert_int_eq(sched_numa_faults_parse("mm->numa_scan_seq   7\n", &f, &line), -EBADMSG);
        ck_assert_uint_eq(line, 1);
}
END_TEST

START_TEST(test_parse_too_many_nodes)
{
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        struct sched_numa_faults out;
        unsigned line = 0;

        ck_assert_ptr_nonnull(f);
        for (int n = 0; n <= SCHED_FAULT_NODES_MAX; n++)
                fprintf(f,
                        "numa_faults node=%d task_private=1 task_shared=0 group_private=0 group_shared=0\n",
                        n);
        fclose(f);
        ck_assert_int_eq(sched_numa_faults_parse(text, &out, &line), -E2BIG);
        ck_assert_uint_eq(line, SCHED_FAULT_NODES_MAX + 1);
}
END_TEST

START_TEST(test_decay)
{
        /* The kernel's step: v - v/2 (rounds up). */
        ck_assert_uint_eq(sched_faults_decay(100, 0), 100);
        ck_assert_uint_eq(sched_faults_decay(100, 1), 50);
        ck_assert_uint_eq(sched_faults_decay(101, 1), 51);
        ck_assert_uint_eq(sched_faults_decay(100, 3), 13); /* 50, 25, 13 */
        ck_assert_uint_eq(sched_faults_decay(1, 5), 1);    /* 1 - 0 stays 1 */
        ck_assert_uint_eq(sched_faults_decay(0, 5), 0);
}
END_TEST

START_TEST(test_counter_delta)
{
        ck_assert_uint_eq(sched_counter_delta(100, 130, 0), 30);
        ck_assert_uint_eq(sched_counter_delta(100, 100, 0), 0);
        /* One pass: the kernel kept 50 of the old 100, so 80 of 130 are new. */
        ck_assert_uint_eq(sched_counter_delta(100, 130, 1), 80);
        ck_assert_uint_eq(sched_counter_delta(100, 50, 1), 0);
        /* Below what decay explains: the counter started over, all of it is new. */
        ck_assert_uint_eq(sched_counter_delta(100, 20, 0), 20);
        ck_assert_uint_eq(sched_counter_delta(100, 20, 1), 20);
        ck_assert_uint_eq(sched_counter_delta(0, 7, 0), 7);
}
END_TEST

static struct sched_numa_faults two_nodes(uint64_t seq, uint64_t p0, uint64_t s0, uint64_t p1, uint64_t s1)
{
        return (struct sched_numa_faults){
                .have_scan_seq = true,
                .scan_seq = seq,
                .n_nodes = 2,
                .node = {{.node = 0, .task_private = p0, .task_shared = s0},
                         {.node = 1, .task_private = p1, .task_shared = s1}},
        };
}

START_TEST(test_decays_between)
{
        struct sched_numa_faults a = two_nodes(5, 10, 2, 30, 4), b;

        b = a;
        ck_assert_uint_eq(sched_decays_between(&a, &b), 0); /* nothing changed: no placement ran */
        b.scan_seq = 9;
        ck_assert_uint_eq(sched_decays_between(&a, &b),
                          0); /* passes went by, but this thread took no fault */
        b = two_nodes(7, 15, 2, 30, 4);
        ck_assert_uint_eq(sched_decays_between(&a, &b), 2);
        b = two_nodes(5, 15, 2, 30, 4);
        ck_assert_uint_eq(sched_decays_between(&a, &b), 1); /* changed within one pass: still one step */
        b = two_nodes(500, 15, 2, 30, 4);
        ck_assert_uint_eq(sched_decays_between(&a, &b), 64);
        b = two_nodes(7, 15, 2, 30, 4);
        b.have_scan_seq = false;
        ck_assert_uint_eq(sched_decays_between(&a, &b), 1);
}
END_TEST

struct sink {
        uint64_t by_node[8];
        unsigned calls;
};

static void collect(int node, uint64_t faults, void *userdata)
{
        struct sink *s = userdata;

        ck_assert_int_lt(node, 8);
        s->by_node[node] += faults;
        s->calls++;
}

START_TEST(test_faults_delta)
{
        struct sched_numa_faults a = two_nodes(5, 100, 10, 20, 0), b;
        struct sink s = {};

        /* First reading of a thread: baseline only. */
        sched_faults_delta(NULL, &a, collect, &s);
        ck_assert_uint_eq(s.calls, 2);
        ck_assert_uint_eq(s.by_node[0] + s.by_node[1], 0);

        /* Values only change when the thread's placement runs, and that decays every count once:
         * even within one scan_seq, a change means one step. Node 0 kept 50 + 5 of 100 + 10 and
         * gained 80 + 10; node 1 kept 10 of 20 and gained 10. */
        b = two_nodes(5, 130, 15, 20, 0);
        s = (struct sink){};
        sched_faults_delta(&a, &b, collect, &s);
        ck_assert_uint_eq(s.by_node[0], 90);
        ck_assert_uint_eq(s.by_node[1], 10);

        /* Nothing changed: no placement, no faults. */
        s = (struct sink){};
        sched_faults_delta(&a, &a, collect, &s);
        ck_assert_uint_eq(s.by_node[0] + s.by_node[1], 0);

        /* One pass later: node 0 kept 50 + 5 and gained 60 + 5; node 1 kept 10 and gained 7. */
        b = two_nodes(6, 110, 10, 17, 0);
        s = (struct sink){};
        sched_faults_delta(&a, &b, collect, &s);
        ck_assert_uint_eq(s.by_node[0], 60 + 5);
        ck_assert_uint_eq(s.by_node[1], 7);

        /* scan_seq went backwards: another mm behind this tid, everything counts as new. */
        b = two_nodes(1, 3, 1, 4, 0);
        s = (struct sink){};
        sched_faults_delta(&a, &b, collect, &s);
        ck_assert_uint_eq(s.by_node[0], 4);
        ck_assert_uint_eq(s.by_node[1], 4);

        /* A node that was not there before (onlined) with no faults yet: nothing changed. */
        b = two_nodes(5, 100, 10, 20, 0);
        b.node[2] = (struct sched_node_faults){.node = 3};
        b.n_nodes = 3;
        s = (struct sink){};
        sched_faults_delta(&a, &b, collect, &s);
        ck_assert_uint_eq(s.by_node[0] + s.by_node[1] + s.by_node[3], 0);

        /* With faults, its whole count is new, and it proves a placement (decay step) ran: the
         * unchanged node 0 must have gained what decay took (55 = 50 + 5), node 1 10. */
        b.node[2] = (struct sched_node_faults){.node = 3, .task_private = 9, .task_shared = 1};
        s = (struct sink){};
        sched_faults_delta(&a, &b, collect, &s);
        ck_assert_uint_eq(s.by_node[3], 10);
        ck_assert_uint_eq(s.by_node[0], 55);
        ck_assert_uint_eq(s.by_node[1], 10);
}
END_TEST

TEST_MAIN("sampler-sched", test_parse_6_1, test_parse_captured, test_parse_sparse_and_absent,
          test_parse_malformed, test_parse_malformed_inline, test_parse_too_many_nodes, test_decay,
          test_counter_delta, test_decays_between, test_faults_delta)
