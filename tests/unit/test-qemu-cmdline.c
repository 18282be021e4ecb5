/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <check.h>

#include "test-util.h"
#include "vnuma/qemu/qemu-cmdline.h"

#define ARGV(s) s, sizeof(s)

START_TEST(test_keyval)
{
        _cleanup_(numa_args_freep) struct numa_args *a = NULL;

        ck_assert_int_eq(numa_args_parse(ARGV("qemu-system-x86_64\0-m\0512M\0"
                                              "-numa\0node,nodeid=0,memdev=m0,cpus=0-1\0"
                                              "-numa\0node,nodeid=2,memdev=m2\0"
                                              "-numa\0dist,src=0,dst=2,val=20\0"
                                              "-numa\0node,cpus=2-3,nodeid=1,memdev=ram-node1\0"),
                                         &a),
                         0);
        ck_assert_uint_eq(a->n_nodes, 3);
        ck_assert_str_eq(numa_args_memdev(a, 0), "m0");
        ck_assert_str_eq(numa_args_memdev(a, 1), "ram-node1");
        ck_assert_str_eq(numa_args_memdev(a, 2), "m2");
        ck_assert_ptr_null(numa_args_memdev(a, 3));
}
END_TEST

START_TEST(test_json_and_implicit_ids)
{
        _cleanup_(numa_args_freep) struct numa_args *a = NULL;
        struct numa_args *untouched = (struct numa_args *)0x1;

        /* Without nodeid=, QEMU numbers nodes by their order on the command line. */
        ck_assert_int_eq(
                numa_args_parse(ARGV("qemu\0-numa\0node,memdev=a\0-numa\0node,memdev=b\0"
                                     "-numa\0{\"type\":\"node\",\"nodeid\":2,\"memdev\":\"ram-node2\"}\0"),
                                &a),
                0);
        ck_assert_uint_eq(a->n_nodes, 3);
        ck_assert_str_eq(numa_args_memdev(a, 0), "a");
        ck_assert_str_eq(numa_args_memdev(a, 1), "b");
        ck_assert_str_eq(numa_args_memdev(a, 2), "ram-node2");
        /* An implicit id that collides with an explicit one is QEMU's "duplicate nodeid" too. */
        ck_assert_int_eq(
                numa_args_parse(ARGV("qemu\0-numa\0node,nodeid=1\0-numa\0node,memdev=x\0"), &untouched),
                -EBADMSG);
        ck_assert_ptr_eq(untouched, (struct numa_args *)0x1);
}
END_TEST

START_TEST(test_no_memdev_and_errors)
{
        _cleanup_(numa_args_freep) struct numa_args *a = NULL;
        struct numa_args *untouched = (struct numa_args *)0x1;

        ck_assert_int_eq(numa_args_parse(ARGV("qemu\0-numa\0node,nodeid=0,cpus=0\0"), &a), 0);
        ck_assert_uint_eq(a->n_nodes, 1);
        ck_assert_ptr_null(numa_args_memdev(a, 0));
        ck_assert_int_eq(numa_args_parse(ARGV("qemu\0-numa\0"), &untouched), -EBADMSG);
        ck_assert_int_eq(numa_args_parse(ARGV("qemu\0-numa\0node,nodeid=x\0"), &untouched), -EBADMSG);
        ck_assert_int_eq(
                numa_args_parse(ARGV("qemu\0-numa\0node,nodeid=0\0-numa\0node,nodeid=0\0"), &untouched),
                -EBADMSG);
        ck_assert_int_eq(numa_args_parse(ARGV("qemu\0-numa\0{\"type\":\"node\",\0"), &untouched), -EBADMSG);
        ck_assert_int_eq(
                numa_args_parse(ARGV("qemu\0-numa\0{\"type\":\"node\",\"nodeid\":\"0\"}\0"), &untouched),
                -EBADMSG);
        ck_assert_ptr_eq(untouched, (struct numa_args *)0x1);
}
END_TEST

START_TEST(test_unterminated_blob)
{
        /* The last argument without its NUL (found by fuzzing: the JSON parser ran past it). */
        static const char blob[] = "qemu\0-numa\0{\"type\":\"node\",\"memdev\":\"m0\"}";
        _cleanup_(numa_args_freep) struct numa_args *a = NULL;

        ck_assert_int_eq(numa_args_parse(blob, sizeof(blob) - 1, &a), 0);
        ck_assert_str_eq(numa_args_memdev(a, 0), "m0");
        numa_args_free(TAKE_PTR(a));
        /* ...or a blob cut right after a flag, in the middle of its name. */
        ck_assert_int_eq(numa_args_parse("qemu\0-numa", 10, &a), -EBADMSG);
        ck_assert_int_eq(numa_args_parse("qemu\0-num", 9, &a), 0);
        ck_assert_uint_eq(a->n_nodes, 0);
}
END_TEST

TEST_MAIN("qemu-cmdline", test_keyval, test_json_and_implicit_ids, test_no_memdev_and_errors,
          test_unterminated_blob)
