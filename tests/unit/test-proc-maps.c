/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <check.h>

#include "test-util.h"
#include "vnuma/host/proc-maps.h"

START_TEST(test_real_maps)
{
        _cleanup_free_ char *text = test_read_fixture("text/maps-qemu.txt");
        _cleanup_(proc_maps_freep) struct proc_maps *m = NULL;
        uint64_t page = 1;

        ck_assert_int_eq(proc_maps_parse(text, &m, NULL), 0);
        ck_assert_uint_eq(m->n_maps, 399);
        /* m0: 192 MiB anonymous at 0x7f75fbe00000 (see the gpa2hva replies in the fixture's QEMU). */
        ck_assert(proc_maps_covers(m, 0x7f75fbe00000ull, 0x7f75fbe00000ull + (192ull << 20), &page));
        ck_assert_uint_eq(page, 0); /* plain maps has no KernelPageSize */
        /* One byte more runs into the next mapping's guard or a gap. */
        ck_assert(!proc_maps_covers(m, 0x7f75fbdff000ull, 0x7f75fbe00000ull + 4096, NULL));
        /* The file backend, shared. */
        ck_assert(proc_maps_covers(m, 0x7f75e7dfe000ull, 0x7f75ebdfe000ull, NULL));
        for (size_t i = 0; i < m->n_maps; i++)
                if (m->maps[i].start == 0x7f75e7dfe000ull) {
                        ck_assert_str_eq(m->maps[i].path, "/tmp/q/filemem");
                        ck_assert_str_eq(m->maps[i].perms, "rw-s");
                }
}
END_TEST

START_TEST(test_smaps_page_size_and_split_vmas)
{
        const char *text =
                "7f0000000000-7f0000200000 rw-p 00000000 00:00 0 \n"
                "Size:               2048 kB\n"
                "KernelPageSize:        4 kB\n"
                "AnonHugePages:      2048 kB\n"
                "VmFlags: rd wr mr mw me ac sd\n"
                "7f0000200000-7f0000600000 rw-p 00000000 00:0f 12 /dev/hugepages/guest (deleted)\n"
                "KernelPageSize:     2048 kB\n"
                "7f0000700000-7f0000800000 r--p 00000000 00:00 0\n";
        _cleanup_(proc_maps_freep) struct proc_maps *m = NULL;
        uint64_t page = 0;

        ck_assert_int_eq(proc_maps_parse(text, &m, NULL), 0);
        ck_assert_uint_eq(m->n_maps, 3);
        ck_assert_str_eq(m->maps[1].path, "/dev/hugepages/guest (deleted)");
        ck_assert_ptr_null(m->maps[0].path);
        ck_assert(proc_maps_covers(m, 0x7f0000000000ull, 0x7f0000600000ull, &page));
        ck_assert_uint_eq(page, 2u << 20);
        ck_assert(proc_maps_covers(m, 0x7f0000000000ull, 0x7f0000100000ull, &page));
        ck_assert_uint_eq(page, 4096);
        ck_assert(!proc_maps_covers(m, 0x7f0000500000ull, 0x7f0000700000ull, NULL)); /* gap */
        ck_assert(!proc_maps_covers(m, 0x7f0000700000ull, 0x7f0000800000ull, NULL)); /* read-only */
}
END_TEST

START_TEST(test_malformed)
{
        struct proc_maps *m = (struct proc_maps *)0x1;
        unsigned line = 0;

        ck_assert_int_eq(proc_maps_parse("7f00-7e00 rw-p 0 00:00 0\n", &m, &line), -EBADMSG);
        ck_assert_uint_eq(line, 1);
        ck_assert_int_eq(proc_maps_parse("7f00-7f10 rw-p 0 00:00 0\nsize 12\n", &m, &line), -EBADMSG);
        ck_assert_uint_eq(line, 2);
        ck_assert_int_eq(proc_maps_parse("KernelPageSize: 4 kB\n", &m, &line), -EBADMSG);
        ck_assert_int_eq(proc_maps_parse("7f00-7f10 rw 0 00:00 0\n", &m, &line), -EBADMSG);
        ck_assert_ptr_eq(m, (struct proc_maps *)0x1);
}
END_TEST

TEST_MAIN("proc-maps", test_real_maps, test_smaps_page_size_and_split_vmas, test_malformed)
