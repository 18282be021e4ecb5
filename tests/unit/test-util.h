/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared scaffolding for Check unit tests: fixture files and a main() per suite. */

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vnuma/basic/fileio.h"
#include "vnuma/basic/macro.h"

/* Contents of tests/data/REL (meson passes the directory in VNUMA_TEST_DATA). */
static inline char *test_read_fixture(const char *rel)
{
        const char *dir = getenv("VNUMA_TEST_DATA");
        char *text = NULL;

        ck_assert_msg(dir, "VNUMA_TEST_DATA is not set");
        ck_assert_int_eq(read_full_file_at(dir, rel, 16u << 20, &text, NULL), 0);
        return text;
}

/* A new, empty directory $TMPDIR/NAME.PID.N (default /tmp) for a fixture tree, in *ret (free it;
 * remove the tree with test_remove_tree). mkdir(2) fails on a name that exists, so the directory
 * is the caller's alone. 0 or -errno; usable outside a Check test. */
static inline int test_make_tmpdir(const char *name, char **ret)
{
        static unsigned counter;
        const char *tmp = getenv("TMPDIR");

        for (unsigned tries = 0; tries < 1000; tries++) {
                char *path;

                if (asprintf(&path, "%s/%s.%d.%u", tmp && *tmp ? tmp : "/tmp", name, (int)getpid(),
                             counter++) < 0)
                        return -ENOMEM;
                if (mkdir(path, 0700) == 0) {
                        *ret = path;
                        return 0;
                }
                free(path);
                if (errno != EEXIST)
                        return -errno;
        }
        return -EEXIST;
}

static inline int test_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path);
}

/* Removes path and everything below it; 0, or -1 with errno. */
static inline int test_remove_tree(const char *path)
{
        return nftw(path, test_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A writable copy of the fixture tree tests/data/REL in a new temporary directory (from
 * test_make_tmpdir(name)), for code under test that writes to it (sysfs controllers). Free the
 * path; remove the tree with test_remove_tree. */
static inline char *test_copy_fixture_tree(const char *name, const char *rel)
{
        char *tmp = NULL, cmd[1024];

        ck_assert_msg(getenv("VNUMA_TEST_DATA"), "VNUMA_TEST_DATA is not set");
        ck_assert_int_eq(test_make_tmpdir(name, &tmp), 0);
        snprintf(cmd, sizeof(cmd), "cp -a '%s/%s/.' '%s/'", getenv("VNUMA_TEST_DATA"), rel, tmp);
        ck_assert_int_eq(system(cmd), 0);
        return tmp;
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
