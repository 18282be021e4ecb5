/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <check.h>
#include <errno.h>

#include "vnuma/basic/idset.h"

START_TEST(test_parse_ranges)
{
        struct idset s;
        char buf[64];

        ck_assert_int_eq(idset_parse("0-3,8,10-11\n", &s), 0);
        ck_assert_int_eq(idset_count(&s), 7);
        ck_assert(idset_test(&s, 0) && idset_test(&s, 3) && idset_test(&s, 8) && idset_test(&s, 11));
        ck_assert(!idset_test(&s, 4) && !idset_test(&s, 9) && !idset_test(&s, 12));
        ck_assert_int_eq(idset_format(&s, buf, sizeof(buf)), 0);
        ck_assert_str_eq(buf, "0-3,8,10-11");
}
END_TEST

START_TEST(test_parse_empty)
{
        struct idset s;
        char buf[8];

        ck_assert_int_eq(idset_parse("\n", &s), 0);
        ck_assert(idset_is_empty(&s));
        ck_assert_int_eq(idset_parse("", &s), 0);
        ck_assert_int_eq(idset_format(&s, buf, sizeof(buf)), 0);
        ck_assert_str_eq(buf, "");
        ck_assert_int_eq(idset_next(&s, 0), -1);
}
END_TEST

START_TEST(test_parse_errors)
{
        struct idset s = IDSET_EMPTY;

        idset_add(&s, 5);
        ck_assert_int_eq(idset_parse("1-", &s), -EINVAL);
        ck_assert_int_eq(idset_parse("3-1", &s), -EINVAL);
        ck_assert_int_eq(idset_parse("1,,2", &s), -EINVAL);
        ck_assert_int_eq(idset_parse("1,", &s), -EINVAL);
        ck_assert_int_eq(idset_parse("a", &s), -EINVAL);
        ck_assert_int_eq(idset_parse("-1", &s), -EINVAL);
        ck_assert_int_eq(idset_parse("1024", &s), -ERANGE);
        /* Failure leaves the output untouched. */
        ck_assert_int_eq(idset_count(&s), 1);
        ck_assert(idset_test(&s, 5));
}
END_TEST

START_TEST(test_next_and_ops)
{
        struct idset a = IDSET_EMPTY, b = IDSET_EMPTY;
        char small[4];

        idset_add(&a, 63);
        idset_add(&a, 64);
        idset_add(&a, 1023);
        ck_assert_int_eq(idset_next(&a, 0), 63);
        ck_assert_int_eq(idset_next(&a, 64), 64);
        ck_assert_int_eq(idset_next(&a, 65), 1023);
        idset_add(&b, 64);
        idset_and(&a, &b);
        ck_assert(idset_equal(&a, &b));
        idset_add(&b, 100);
        idset_or(&a, &b);
        ck_assert_int_eq(idset_count(&a), 2);
        idset_del(&a, 64);
        ck_assert_int_eq(idset_format(&a, small, sizeof(small)), 0);
        ck_assert_str_eq(small, "100");
        idset_add(&a, 200);
        ck_assert_int_eq(idset_format(&a, small, sizeof(small)), -ENOBUFS);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("idset");
        TCase *tc = tcase_create("core");
        SRunner *sr;
        int failed;

        tcase_add_test(tc, test_parse_ranges);
        tcase_add_test(tc, test_parse_empty);
        tcase_add_test(tc, test_parse_errors);
        tcase_add_test(tc, test_next_and_ops);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
