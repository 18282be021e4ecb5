/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "test-util.h"
#include "vnuma/qemu/mtree.h"

START_TEST(test_real_q35_dump)
{
        _cleanup_free_ char *text = test_read_fixture("text/mtree-q35-dimm.txt");
        _cleanup_(mtree_freep) struct mtree *t = NULL;

        ck_assert_int_eq(mtree_parse(text, &t, NULL), 0);
        /* Only FlatView #0 (AS "memory"), not the cpu-smm or I/O views. */
        ck_assert_uint_eq(t->n_ranges, 11);
        ck_assert_str_eq(t->ranges[0].name, "m0");
        ck_assert_uint_eq(t->ranges[0].start, 0);
        ck_assert_uint_eq(t->ranges[0].last, 0xbffff);
        ck_assert_str_eq(t->ranges[0].kind, "ram");
        ck_assert_str_eq(t->ranges[3].name, "m0");
        ck_assert_uint_eq(t->ranges[3].offset, 0x100000);
        ck_assert_str_eq(t->ranges[2].name, "pc.bios");
        ck_assert_str_eq(t->ranges[2].kind, "rom");
        ck_assert_uint_eq(t->ranges[2].offset, 0x20000);
        ck_assert_str_eq(t->ranges[10].name, "d0");
        ck_assert_uint_eq(t->ranges[10].start, 0x100000000ull);
        ck_assert_uint_eq(mtree_bytes_of(t, "m0"), 0xc0000 + (0xc000000 - 0x100000));
        ck_assert_uint_eq(mtree_bytes_of(t, "m1"), 256u << 20);
        ck_assert_uint_eq(mtree_bytes_of(t, "pc.bios"), 0); /* rom, not RAM */
        ck_assert_uint_eq(mtree_bytes_of(t, "nope"), 0);
}
END_TEST

START_TEST(test_kvm_suffix_and_split_ram)
{
        const char *text =
                "FlatView #0\n"
                " AS \"memory\", root: system\n"
                " Root memory region: system\n"
                "  0000000000000000-000000007fffffff (prio 0, ram): ram-node0 KVM\n"
                "  0000000080000000-00000000bfffffff (prio 0, ram): ram-node1 KVM\n"
                "  0000000100000000-000000013fffffff (prio 0, ram): ram-node1 @0000000040000000 KVM\n";
        _cleanup_(mtree_freep) struct mtree *t = NULL;

        ck_assert_int_eq(mtree_parse(text, &t, NULL), 0);
        ck_assert_uint_eq(t->n_ranges, 3);
        ck_assert_str_eq(t->ranges[0].name, "ram-node0");
        ck_assert_str_eq(t->ranges[2].name, "ram-node1");
        ck_assert_uint_eq(t->ranges[2].offset, 0x40000000);
        ck_assert_uint_eq(mtree_bytes_of(t, "ram-node1"), 2ull << 30);
}
END_TEST

START_TEST(test_crlf_lines)
{
        const char *text = "FlatView #0\r\n AS \"memory\", root: system\r\n Root memory region: system\r\n"
                           "  0000000000000000-0000000000000fff (prio 0, ram): m0\r\n";
        _cleanup_(mtree_freep) struct mtree *t = NULL;

        ck_assert_int_eq(mtree_parse(text, &t, NULL), 0);
        ck_assert_str_eq(t->ranges[0].name, "m0");
}
END_TEST

START_TEST(test_malformed)
{
        struct mtree *t = (struct mtree *)0x1;
        unsigned line = 0;

        ck_assert_int_eq(mtree_parse("FlatView #0\n AS \"memory\", root: system\n"
                                     "  00000000zz-0000000000000fff (prio 0, ram): m0\n",
                                     &t, &line),
                         -EBADMSG);
        ck_assert_uint_eq(line, 3);
        ck_assert_int_eq(mtree_parse("FlatView #0\n AS \"memory\", root: system\n"
                                     "  0000000000001000-0000000000000fff (prio 0, ram): m0\n",
                                     &t, &line),
                         -EBADMSG);
        ck_assert_int_eq(mtree_parse("FlatView #0\n AS \"memory\", root: system\n"
                                     "  0000000000000000-0000000000000fff (prio 0, ram): \n",
                                     &t, &line),
                         -EBADMSG);
        ck_assert_int_eq(mtree_parse("FlatView #0\n AS \"memory\", root: system\n"
                                     "  0000000000000000-0000000000000fff prio 0: m0\n",
                                     &t, &line),
                         -EBADMSG);
        /* No FlatView for "memory" at all, or not mtree output. */
        ck_assert_int_eq(mtree_parse("FlatView #0\n AS \"I/O\", root: io\n"
                                     "  0000000000000000-0000000000000007 (prio 0, i/o): dma\n",
                                     &t, NULL),
                         -ENOENT);
        ck_assert_int_eq(mtree_parse("unknown command: 'info mtree'\n", &t, NULL), -ENOENT);
        ck_assert_ptr_eq(t, (struct mtree *)0x1); /* untouched on failure */
}
END_TEST

/* A QEMU that lists more ranges or lines than any real machine has is refused, not walked. */
START_TEST(test_too_many)
{
        const char *head = "FlatView #0\n AS \"memory\", root: system\n";
        size_t size = strlen(head) + (MTREE_MAX_LINES + 2) * 64;
        _cleanup_free_ char *text = malloc(size);
        struct mtree *t = (struct mtree *)0x1;
        size_t len;

        ck_assert_ptr_nonnull(text);
        len = (size_t)snprintf(text, size, "%s", head);
        for (unsigned i = 0; i <= MTREE_MAX_RANGES; i++)
                len += (size_t)snprintf(text + len, size - len, "  %016x-%016x (prio 0, ram): m0 @%x\n",
                                        i * 0x1000u, i * 0x1000u + 0xfffu, i * 0x1000u);
        ck_assert_int_eq(mtree_parse(text, &t, NULL), -E2BIG);

        /* Lines outside the memory view count too. */
        len = (size_t)snprintf(text, size, "FlatView #0\n AS \"I/O\", root: io\n");
        for (unsigned i = 0; i <= MTREE_MAX_LINES; i++)
                len += (size_t)snprintf(text + len, size - len, "  x\n");
        ck_assert_int_eq(mtree_parse(text, &t, NULL), -E2BIG);
        ck_assert_ptr_eq(t, (struct mtree *)0x1); /* untouched on failure */
}
END_TEST

TEST_MAIN("mtree", test_real_q35_dump, test_kvm_suffix_and_split_ram, test_crlf_lines, test_malformed,
          test_too_many)
