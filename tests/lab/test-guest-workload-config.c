/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "guest-workload-config.h"

START_TEST(test_defaults)
{
        struct workload_config c;

        workload_config_init(&c);
        ck_assert_uint_eq(c.size_per_node, 64ULL << 20);
        ck_assert_int_eq(c.pattern, WORKLOAD_STREAM);
        ck_assert_int_eq(c.alloc, WORKLOAD_FIRST_TOUCH);
        ck_assert_uint_eq(c.interval_ms, 1000);
        ck_assert_uint_eq(c.duration_s, 0);
        ck_assert(idset_is_empty(&c.nodes));
        ck_assert_uint_eq(c.phase_s, 0);
}
END_TEST

START_TEST(test_cmdline)
{
        struct workload_config c;
        char *bad = NULL;

        workload_config_init(&c);
        ck_assert_int_eq(workload_config_parse_cmdline(&c,
                                                       "console=ttyS0 quiet vnw.size=32M vnw.pattern=hot "
                                                       "vnw.hot=25 vnw.alloc=mbind vnw.interval=500 "
                                                       "vnw.duration=30 vnw.nodes=1,3 vnw.phase=75 panic=-1\n",
                                                       &bad),
                         0);
        ck_assert_ptr_null(bad);
        ck_assert_uint_eq(c.size_per_node, 32ULL << 20);
        ck_assert_int_eq(c.pattern, WORKLOAD_HOT);
        ck_assert_uint_eq(c.hot_percent, 25);
        ck_assert_int_eq(c.alloc, WORKLOAD_MBIND);
        ck_assert_uint_eq(c.interval_ms, 500);
        ck_assert_uint_eq(c.duration_s, 30);
        ck_assert_int_eq(idset_count(&c.nodes), 2);
        ck_assert(idset_test(&c.nodes, 1) && idset_test(&c.nodes, 3));
        ck_assert_uint_eq(c.phase_s, 75);
}
END_TEST

START_TEST(test_cmdline_errors_leave_config_alone)
{
        static const struct {
                const char *cmdline, *bad;
                int err;
        } cases[] = {
                {"vnw.size=lots", "vnw.size=lots", -EINVAL},
                {"vnw.pattern=zigzag", "vnw.pattern=zigzag", -EINVAL},
                {"vnw.hot=0", "vnw.hot=0", -ERANGE},
                {"vnw.hot=101", "vnw.hot=101", -ERANGE},
                {"vnw.interval=10", "vnw.interval=10", -ERANGE},
                {"vnw.nodes=1-", "vnw.nodes=1-", -EINVAL},
                {"vnw.phase=soon", "vnw.phase=soon", -EINVAL},
                {"vnw.phase=-5", "vnw.phase=-5", -EINVAL},
                {"vnw.phase=99999999", "vnw.phase=99999999", -ERANGE},
                {"vnw.colour=red", "vnw.colour=red", -EINVAL},
                {"vnw.size", "vnw.size", -EINVAL},
                {"vnw.size=1G vnw.alloc=never", "vnw.alloc=never", -EINVAL},
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct workload_config c;
                char *bad = NULL;

                workload_config_init(&c);
                ck_assert_int_eq(workload_config_parse_cmdline(&c, cases[i].cmdline, &bad), cases[i].err);
                ck_assert_str_eq(bad, cases[i].bad);
                free(bad);
                /* Nothing applied, not even the good words before the bad one. */
                ck_assert_uint_eq(c.size_per_node, 64ULL << 20);
                ck_assert_int_eq(c.alloc, WORKLOAD_FIRST_TOUCH);
        }
}
END_TEST

START_TEST(test_set_and_names)
{
        struct workload_config c;

        workload_config_init(&c);
        ck_assert_int_eq(workload_config_set(&c, "pattern", "random"), 0);
        ck_assert_str_eq(workload_pattern_to_string(c.pattern), "random");
        ck_assert_int_eq(workload_config_set(&c, "alloc", "first-touch"), 0);
        ck_assert_str_eq(workload_alloc_to_string(c.alloc), "first-touch");
        ck_assert_int_eq(workload_config_set(&c, "size", "2048"), -ERANGE);
        ck_assert_int_eq(workload_config_set(&c, "size", "1GiB"), 0);
        ck_assert_uint_eq(c.size_per_node, 1ULL << 30);
        ck_assert_int_eq(workload_config_set(&c, "phase", "0"), 0);
        ck_assert_uint_eq(c.phase_s, 0);
        ck_assert_int_eq(workload_config_set(&c, "phase", "30"), 0);
        ck_assert_uint_eq(c.phase_s, 30);
        ck_assert_ptr_null(workload_pattern_to_string((enum workload_pattern)7));
}
END_TEST

int main(void)
{
        Suite *s = suite_create("guest-workload-config");
        TCase *tc = tcase_create("core");
        SRunner *sr;
        int failed;

        tcase_add_test(tc, test_defaults);
        tcase_add_test(tc, test_cmdline);
        tcase_add_test(tc, test_cmdline_errors_leave_config_alone);
        tcase_add_test(tc, test_set_and_names);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
