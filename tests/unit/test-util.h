/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared scaffolding for Check unit tests: fixture files and a main() per suite. */

#include <check.h>
#include <stdlib.h>

#include "vnuma/fileio.h"
#include "vnuma/macro.h"

/* Contents of tests/data/REL (meson passes the directory in VNUMA_TEST_DATA). */
static inline char *test_read_fixture(const char *rel)
{
        const char *dir = getenv("VNUMA_TEST_DATA");
        char *text = NULL;

        ck_assert_msg(dir, "VNUMA_TEST_DATA is not set");
        ck_assert_int_eq(read_full_file_at(dir, rel, 16u << 20, &text, NULL), 0);
        return text;
}

/* TEST_MAIN("name", test_a, test_b, ...) */
#define TEST_MAIN(name, ...)                                                  \
        int main(void)                                                        \
        {                                                                     \
                const TTest *tests[] = {__VA_ARGS__};                         \
                Suite *s = suite_create(name);                                \
                TCase *tc = tcase_create("core");                             \
                SRunner *sr;                                                  \
                int failed;                                                   \
                for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) \
                        tcase_add_test(tc, tests[i]);                         \
                suite_add_tcase(s, tc);                                       \
                sr = srunner_create(s);                                       \
                srunner_run_all(sr, CK_NORMAL);                               \
                failed = srunner_ntests_failed(sr);                           \
                srunner_free(sr);                                             \
                return failed ? EXIT_FAILURE : EXIT_SUCCESS;                  \
        }
