/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host readings: busy CPUs per node from two /proc/stat fixtures, MemFree per node. */
#include <check.h>

#include "../test-util.h"
#include "sampler-hoststat.h"

#define N_CPUS 8

static void parse_stat(const char *rel, struct cpu_times *t)
{
        _cleanup_free_ char *text = test_read_fixture(rel);
        unsigned line = 0;

        ck_assert_int_eq(proc_stat_cpu_times_parse(text, t, N_CPUS, &line), 0);
}

START_TEST(test_stat_parse)
{
        struct cpu_times t[N_CPUS];

        parse_stat("sampler/stat/stat-a", t);
        ck_assert(t[0].valid && t[3].valid && !t[4].valid);
        /* cpu1: user nice system idle iowait irq softirq steal = 1000 100 500 22000 100 25 25 0 */
        ck_assert_uint_eq(t[1].total, 23750);
        ck_assert_uint_eq(t[1].busy, 1650);

        /* guest (30) is inside user already and is not added again. */
        parse_stat("sampler/stat/stat-b", t);
        ck_assert_uint_eq(t[1].total, 23850);
        ck_assert_uint_eq(t[1].busy, 1700);
        ck_assert(t[4].valid);

        parse_stat("sampler/stat/stat-4fields", t);
        ck_assert_uint_eq(t[0].total, 100);
        ck_assert_uint_eq(t[0].busy, 20);

        /* CPUs beyond the table are ignored. */
        _cleanup_free_ char *text = test_read_fixture("sampler/stat/stat-b");
        ck_assert_int_eq(proc_stat_cpu_times_parse(text, t, 2, NULL), 0);
        ck_assert(t[1].valid);
}
END_TEST

START_TEST(test_stat_malformed)
{
        static const struct {
                const char *file;
                unsigned line;
        } bad[] = {
                {"sampler/stat/bad-short", 3},
                {"sampler/stat/bad-number", 3},
                {"sampler/stat/bad-duplicate", 3},
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *text = test_read_fixture(bad[i].file);
                struct cpu_times t[N_CPUS];
                unsigned line = 0;

                ck_assert_int_eq(proc_stat_cpu_times_parse(text, t, N_CPUS, &line), -EBADMSG);
                ck_assert_msg(line == bad[i].line, "%s: line %u", bad[i].file, line);
        }
}
END_TEST

START_TEST(test_cpu_load)
{
        struct cpu_times a[N_CPUS], b[N_CPUS], zero[N_CPUS] = {};
        struct idset n0 = IDSET_EMPTY, n1 = IDSET_EMPTY, all = IDSET_EMPTY;

        parse_stat("sampler/stat/stat-a", a);
        parse_stat("sampler/stat/stat-b", b);
        idset_add(&n0, 0);
        idset_add(&n0, 1);
        idset_add(&n1, 2);
        idset_add(&n1, 3);
        idset_add(&n1, 4);
        all = n0;
        idset_or(&all, &n1);

        /* cpu0 busy all 100 ticks, cpu1 half: 1.5 CPUs. */
        ck_assert_double_eq_tol(cpu_times_load(a, b, N_CPUS, &n0), 1.5, 1e-9);
        /* cpu2 idle, cpu3 25 busy of 100 (25 iowait is not busy); cpu4 has no earlier reading. */
        ck_assert_double_eq_tol(cpu_times_load(a, b, N_CPUS, &n1), 0.25, 1e-9);
        ck_assert_double_eq_tol(cpu_times_load(a, b, N_CPUS, &all), 1.75, 1e-9);
        /* No time passed: idle, not a division by zero. */
        ck_assert_double_eq_tol(cpu_times_load(a, a, N_CPUS, &all), 0, 1e-9);
        /* Counters went backwards (CPU offlined and back): that CPU is skipped. */
        ck_assert_double_eq_tol(cpu_times_load(b, a, N_CPUS, &n0), 0, 1e-9);
        /* Since boot, when valid zero readings stand in for the previous period. */
        for (int i = 0; i < N_CPUS; i++)
                zero[i].valid = b[i].valid;
        ck_assert_double_eq_tol(cpu_times_load(zero, b, N_CPUS, &n1),
                                (1550.0 / 25850) + (1525.0 / 25700) + (10.0 / 100), 1e-9);
}
END_TEST

START_TEST(test_meminfo_free)
{
        _cleanup_free_ char *text = test_read_fixture("sysfs-2node/devices/system/node/node0/meminfo");
        uint64_t bytes = 0;
        unsigned line = 0;

        ck_assert_int_eq(node_meminfo_free_parse(text, 0, &bytes, &line), 0);
        ck_assert_uint_eq(bytes, UINT64_C(61020344) * 1024);
        /* Another node's file. */
        ck_assert_int_eq(node_meminfo_free_parse(text, 1, &bytes, &line), -EBADMSG);
        ck_assert_uint_eq(line, 2);
        ck_assert_int_eq(
                node_meminfo_free_parse("Node 0 MemTotal: 10 kB\nNode 0 MemFree: 12 MB\n", 0, &bytes, &line),
                -EBADMSG);
        ck_assert_uint_eq(line, 2);
        ck_assert_int_eq(node_meminfo_free_parse("Node 0 MemFree: -12 kB\n", 0, &bytes, &line), -EBADMSG);
        ck_assert_int_eq(node_meminfo_free_parse("Node 0 MemFree: 12 kB junk\n", 0, &bytes, &line),
                         -EBADMSG);
        ck_assert_int_eq(node_meminfo_free_parse("Node 0 MemTotal: 10 kB\n", 0, &bytes, &line), -EBADMSG);
        ck_assert_uint_eq(line, 0);
        ck_assert_uint_eq(bytes, UINT64_C(61020344) * 1024);
        ck_assert_int_eq(node_meminfo_free_parse("Node 3 MemFree:   7 kB\n", 3, &bytes, &line), 0);
        ck_assert_uint_eq(bytes, 7 * 1024);
}
END_TEST

TEST_MAIN("sampler-hoststat", test_stat_parse, test_stat_malformed, test_cpu_load, test_meminfo_free)
