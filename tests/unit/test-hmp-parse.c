/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <check.h>

#include "test-util.h"
#include "vnuma/qemu/hmp-parse.h"

START_TEST(test_gpa2hva)
{
        _cleanup_free_ char *region = NULL;
        uint64_t hva = 0;

        ck_assert_int_eq(
                gpa2hva_parse("Host virtual address for 0x100000 (m0) is 0x7f75fbf00000\r\n", &hva, &region),
                0);
        ck_assert_uint_eq(hva, 0x7f75fbf00000ull);
        ck_assert_str_eq(region, "m0");
        ck_assert_int_eq(
                gpa2hva_parse("Host virtual address for 0x0 (ram-node1) is 0x7f0000000000", &hva, NULL), 0);
        ck_assert_uint_eq(hva, 0x7f0000000000ull);
}
END_TEST

START_TEST(test_gpa2hva_errors)
{
        uint64_t hva = 42;

        ck_assert_int_eq(gpa2hva_parse("No memory is mapped at address 0x20000000\r\n", &hva, NULL), -ENXIO);
        ck_assert_int_eq(gpa2hva_parse("Host virtual address for 0x0 (m0) is 0x\n", &hva, NULL), -EBADMSG);
        ck_assert_int_eq(gpa2hva_parse("Host virtual address for 0x0 (m0) is 0x12zz\n", &hva, NULL),
                         -EBADMSG);
        ck_assert_int_eq(gpa2hva_parse("Host virtual address for 0x0 m0 is 0x1000\n", &hva, NULL), -EBADMSG);
        ck_assert_int_eq(gpa2hva_parse("Unknown command\n", &hva, NULL), -EBADMSG);
        ck_assert_uint_eq(hva, 42);
}
END_TEST

START_TEST(test_info_numa)
{
        _cleanup_free_ char *text = test_read_fixture("text/info-numa-3cells.txt");
        _cleanup_(info_numa_freep) struct info_numa *n = NULL;

        ck_assert_int_eq(info_numa_parse(text, &n), 0);
        ck_assert_uint_eq(n->n_nodes, 3);
        ck_assert_int_eq(n->nodes[0].id, 0);
        ck_assert_int_eq(idset_count(&n->nodes[0].cpus), 2);
        ck_assert(idset_test(&n->nodes[1].cpus, 2) && idset_test(&n->nodes[1].cpus, 3));
        ck_assert(idset_is_empty(&n->nodes[2].cpus));
        ck_assert_uint_eq(n->nodes[0].size_bytes, 192ull << 20);
        ck_assert_uint_eq(n->nodes[1].size_bytes, 384ull << 20);
        ck_assert_uint_eq(n->nodes[1].plugged_bytes, 128ull << 20);
        ck_assert_uint_eq(n->nodes[2].size_bytes, 64ull << 20);
}
END_TEST

START_TEST(test_info_numa_zero_and_errors)
{
        _cleanup_(info_numa_freep) struct info_numa *n = NULL;
        struct info_numa *untouched = (struct info_numa *)0x1;

        ck_assert_int_eq(info_numa_parse("0 nodes\r\n", &n), 0);
        ck_assert_uint_eq(n->n_nodes, 0);
        ck_assert_int_eq(info_numa_parse("node 0 cpus: 0\n", &untouched), -EBADMSG); /* no count */
        ck_assert_int_eq(info_numa_parse("1 nodes\nnode 0 size: lots MB\n", &untouched), -EBADMSG);
        ck_assert_int_eq(info_numa_parse("1 nodes\nnode 0 cpus: 0 x\n", &untouched), -EBADMSG);
        ck_assert_int_eq(info_numa_parse("2 nodes\nnode 0 size: 1 MB\n", &untouched), -EBADMSG);
        ck_assert_int_eq(info_numa_parse("1 nodes\nnode 0 size: 1 MB\nnode 1 size: 1 MB\n", &untouched),
                         -EBADMSG);
        ck_assert_int_eq(info_numa_parse("1 nodes\nnode 0 colour: 1 MB\n", &untouched), -EBADMSG);
        /* A second count line (found by fuzzing: it leaked the first node array). */
        ck_assert_int_eq(info_numa_parse("1 nodes\nnode 0 size: 1 MB\n1 nodes\n", &untouched), -EBADMSG);
        ck_assert_ptr_eq(untouched, (struct info_numa *)0x1);
}
END_TEST

TEST_MAIN("hmp-parse", test_gpa2hva, test_gpa2hva_errors, test_info_numa, test_info_numa_zero_and_errors)
