/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <check.h>
#include <errno.h>

#include "vnuma/basic/parse-util.h"

START_TEST(test_sizes)
{
        uint64_t v = 7;

        ck_assert_int_eq(parse_size("256MiB", &v), 0);
        ck_assert_uint_eq(v, 256ull << 20);
        ck_assert_int_eq(parse_size("1G", &v), 0);
        ck_assert_uint_eq(v, 1ull << 30);
        ck_assert_int_eq(parse_size("4096", &v), 0);
        ck_assert_uint_eq(v, 4096);
        ck_assert_int_eq(parse_size("2 kib", &v), 0);
        ck_assert_uint_eq(v, 2048);
        v = 7;
        ck_assert_int_eq(parse_size("12XB", &v), -EINVAL);
        ck_assert_int_eq(parse_size("", &v), -EINVAL);
        ck_assert_int_eq(parse_size("-1M", &v), -EINVAL);
        ck_assert_int_eq(parse_size("99999999999T", &v), -ERANGE);
        ck_assert_uint_eq(v, 7);
}
END_TEST

START_TEST(test_numbers)
{
        uint64_t u = 1;
        int i = 1;

        ck_assert_int_eq(safe_atou64("18446744073709551615", &u), 0);
        ck_assert_uint_eq(u, UINT64_MAX);
        ck_assert_int_eq(safe_atou64("18446744073709551616", &u), -ERANGE);
        ck_assert_int_eq(safe_atou64("12a", &u), -EINVAL);
        ck_assert_int_eq(safe_atou64("-3", &u), -EINVAL);
        ck_assert_int_eq(safe_atoi("-42", &i), 0);
        ck_assert_int_eq(i, -42);
        ck_assert_int_eq(safe_atoi("3000000000", &i), -ERANGE);
        ck_assert_int_eq(safe_atoi(" 1", &i), -EINVAL);
        ck_assert_int_eq(safe_atox64("0x7f8e4be00000", &u), 0);
        ck_assert_uint_eq(u, 0x7f8e4be00000ull);
        ck_assert_int_eq(safe_atox64("ffff", &u), 0);
        ck_assert_uint_eq(u, 0xffff);
        ck_assert_int_eq(safe_atox64("0xg", &u), -EINVAL);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("parse-util");
        TCase *tc = tcase_create("core");
        SRunner *sr;
        int failed;

        tcase_add_test(tc, test_sizes);
        tcase_add_test(tc, test_numbers);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
