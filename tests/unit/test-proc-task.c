/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <check.h>

#include "test-util.h"
#include "vnuma/host/proc-task.h"

/* Field 39 ("processor") is 6 here; the comm has spaces and a ')' as QEMU's "CPU 0/TCG" can. */
#define STAT_LINE                                                                                \
        "4243 (CPU 0/TCG) x) S 1 4242 4242 0 -1 4194368 1 0 0 0 12 3 0 0 20 0 9 0 200 1000 100 " \
        "18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 -1 6 0 0 0 0 0 0 0 0 0 0 0 0 0\n"

START_TEST(test_stat)
{
        char comm[64];
        int cpu = -1;

        ck_assert_int_eq(proc_stat_parse(STAT_LINE, &cpu, comm, sizeof(comm)), 0);
        ck_assert_int_eq(cpu, 6);
        ck_assert_str_eq(comm, "CPU 0/TCG) x");
        ck_assert_int_eq(proc_stat_parse("4243 (short) S 1 2 3\n", &cpu, NULL, 0), -EBADMSG);
        ck_assert_int_eq(proc_stat_parse("4243 no parens S 1\n", &cpu, NULL, 0), -EBADMSG);
        ck_assert_int_eq(cpu, 6);
}
END_TEST

START_TEST(test_status)
{
        struct idset aff;
        pid_t tgid = 0;

        ck_assert_int_eq(proc_status_parse("Name:\tqemu\nTgid:\t4242\nPid:\t4243\n"
                                           "Cpus_allowed:\t0f\nCpus_allowed_list:\t0-1,3\n",
                                           &tgid, &aff),
                         0);
        ck_assert_int_eq(tgid, 4242);
        ck_assert_int_eq(idset_count(&aff), 3);
        ck_assert(idset_test(&aff, 3) && !idset_test(&aff, 2));
        ck_assert_int_eq(proc_status_parse("Name:\tx\nTgid:\tabc\nCpus_allowed_list:\t0\n", &tgid, &aff),
                         -EBADMSG);
        ck_assert_int_eq(proc_status_parse("Name:\tx\nTgid:\t1\nCpus_allowed_list:\t0-\n", &tgid, &aff),
                         -EBADMSG);
        ck_assert_int_eq(proc_status_parse("Name:\tx\nTgid:\t1\n", &tgid, &aff), -EBADMSG);
        ck_assert_int_eq(tgid, 4242);
}
END_TEST

START_TEST(test_fixture_tree)
{
        const char *root = getenv("VNUMA_TEST_DATA");
        _cleanup_free_ char *procfs = NULL;
        _cleanup_free_ pid_t *tids = NULL;
        struct task_placement tp;
        size_t n = 0;
        pid_t tgid = 0;

        ck_assert_int_eq(path_join_root(root, "proc", &procfs), 0);
        ck_assert_int_eq(proc_task_list(procfs, 4242, &tids, &n), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_int_eq(tids[0], 4242);
        ck_assert_int_eq(tids[1], 4243);
        ck_assert_int_eq(proc_task_placement_read(procfs, 4242, 4243, &tp), 0);
        ck_assert_int_eq(tp.last_cpu, 6);
        ck_assert_str_eq(tp.comm, "CPU 0/TCG) x");
        ck_assert_uint_eq(tp.runtime_ns, 123456789ull);
        ck_assert_uint_eq(tp.wait_ns, 5000ull);
        ck_assert(idset_test(&tp.affinity, 3));
        ck_assert_int_eq(proc_tgid_of(procfs, 4242, &tgid), 0);
        ck_assert_int_eq(tgid, 4242);
        ck_assert_int_eq(proc_task_placement_read(procfs, 4242, 9999, &tp), -ENOENT);
        ck_assert_int_eq(proc_task_list(procfs, 9999, &tids, &n), -ENOENT);
}
END_TEST

START_TEST(test_self)
{
        struct task_placement tp;
        pid_t tgid = 0;

        ck_assert_int_eq(proc_task_placement_read(NULL, getpid(), getpid(), &tp), 0);
        ck_assert_int_ge(tp.last_cpu, 0);
        ck_assert(idset_test(&tp.affinity, tp.last_cpu));
        ck_assert_int_eq(proc_tgid_of(NULL, getpid(), &tgid), 0);
        ck_assert_int_eq(tgid, getpid());
}
END_TEST

TEST_MAIN("proc-task", test_stat, test_status, test_fixture_tree, test_self)
