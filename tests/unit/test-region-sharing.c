/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A region's sharing from smaps text: every class, the look-alikes of each, and regions over mixed
 * mappings (the fixture is laid out in 64 MiB mappings from 0x7f1000000000; see its paths). */
#include <check.h>

#include "test-util.h"
#include "vnuma/host/region-sharing.h"

#define BASE   0x7f1000000000ull
#define MAP(i) (BASE + (uint64_t)(i) * (64ull << 20))
#define PAGE   4096

static struct proc_maps *fixture(void)
{
        _cleanup_free_ char *text = test_read_fixture("text/smaps-sharing.txt");
        struct proc_maps *m = NULL;

        ck_assert_int_eq(proc_maps_parse(text, &m, NULL), 0);
        ck_assert_uint_eq(m->n_maps, 16);
        return m;
}

static enum region_sharing sharing_of(const struct proc_maps *m, uint64_t start, uint64_t end)
{
        enum region_sharing s = _REGION_SHARING_MAX;

        ck_assert_int_eq(proc_maps_sharing(m, start, end, PAGE, &s), 0);
        return s;
}

START_TEST(test_each_class)
{
        _cleanup_(proc_maps_freep) struct proc_maps *m = fixture();

        /* memory-backend-ram: anonymous, private. */
        ck_assert_int_eq(sharing_of(m, MAP(0), MAP(1)), REGION_PRIVATE);
        /* memory-backend-memfd,share=on. */
        ck_assert_int_eq(sharing_of(m, MAP(1), MAP(2)), REGION_SHARED_MEMORY);
        /* memory-backend-file,share=on on a disk file. */
        ck_assert_int_eq(sharing_of(m, MAP(2), MAP(3)), REGION_SHARED_FILE);
        /* hugetlbfs file: KernelPageSize 2 MiB > 4 KiB, whatever its path. */
        ck_assert_int_eq(sharing_of(m, MAP(3), MAP(4)), REGION_SHARED_MEMORY);
        /* A file under /dev/shm. */
        ck_assert_int_eq(sharing_of(m, MAP(4), MAP(5)), REGION_SHARED_MEMORY);
        /* memfd with share=off: a private mapping of it. */
        ck_assert_int_eq(sharing_of(m, MAP(5), MAP(6)), REGION_PRIVATE);
        /* MAP_SHARED|MAP_ANONYMOUS shows as "/dev/zero (deleted)": not known per-VM memory. */
        ck_assert_int_eq(sharing_of(m, MAP(6), MAP(7)), REGION_SHARED_FILE);
        /* memory-backend-memfd,hugetlb=on: 256 MiB with KernelPageSize 2 MiB. */
        ck_assert_int_eq(sharing_of(m, MAP(12), MAP(16)), REGION_SHARED_MEMORY);
        /* Any part of a mapping has the mapping's class. */
        ck_assert_int_eq(sharing_of(m, MAP(1) + PAGE, MAP(1) + 2 * PAGE), REGION_SHARED_MEMORY);
}
END_TEST

START_TEST(test_look_alikes_are_files)
{
        _cleanup_(proc_maps_freep) struct proc_maps *m = fixture();

        /* "/memfd:fake" is a file in / (not deleted): the kernel prints a memfd as "(deleted)". */
        ck_assert_int_eq(sharing_of(m, MAP(11), MAP(12)), REGION_SHARED_FILE);
        /* "/dev/shmem-other/x" is not under /dev/shm/. */
        ck_assert_int_eq(sharing_of(m, 0x7f1042000000ull, 0x7f1043000000ull), REGION_SHARED_FILE);
        /* A tmpfs vnumad cannot tell from the path (/run/user). */
        ck_assert_int_eq(sharing_of(m, 0x7f1043000000ull, 0x7f1044000000ull), REGION_SHARED_FILE);
}
END_TEST

START_TEST(test_mixed_takes_the_most_conservative)
{
        _cleanup_(proc_maps_freep) struct proc_maps *m = fixture();

        /* shared memfd + private anonymous: private (MOVE). */
        ck_assert_int_eq(sharing_of(m, MAP(7), MAP(9)), REGION_PRIVATE);
        ck_assert_int_eq(sharing_of(m, MAP(8) - PAGE, MAP(8) + PAGE), REGION_PRIVATE);
        /* shared memfd + shared disk file: shared file. */
        ck_assert_int_eq(sharing_of(m, MAP(9), MAP(11)), REGION_SHARED_FILE);
        /* private + shared file: shared file. */
        ck_assert_int_eq(sharing_of(m, MAP(8), MAP(11)), REGION_SHARED_FILE);
        /* hugetlbfs + /dev/shm: both per-VM memory. */
        ck_assert_int_eq(sharing_of(m, MAP(3), MAP(5)), REGION_SHARED_MEMORY);
        /* Everything from the first mapping on. */
        ck_assert_int_eq(sharing_of(m, MAP(0), MAP(16)), REGION_SHARED_FILE);
}
END_TEST

START_TEST(test_gaps_and_bad_ranges)
{
        _cleanup_(proc_maps_freep) struct proc_maps *m = fixture();
        enum region_sharing s = _REGION_SHARING_MAX;

        /* 0x7f1040000000-0x7f1041000000 is not mapped. */
        ck_assert_int_eq(proc_maps_sharing(m, MAP(15), 0x7f1041000000ull + PAGE, PAGE, &s), -ENOENT);
        ck_assert_int_eq(proc_maps_sharing(m, BASE - PAGE, BASE + PAGE, PAGE, &s), -ENOENT);
        ck_assert_int_eq(proc_maps_sharing(m, 0x7f1044000000ull, 0x7f1044000000ull + PAGE, PAGE, &s),
                         -ENOENT);
        ck_assert_int_eq(proc_maps_sharing(m, BASE, BASE, PAGE, &s), -EINVAL);
        ck_assert_int_eq(s, _REGION_SHARING_MAX); /* untouched on failure */
}
END_TEST

START_TEST(test_single_mappings)
{
        struct proc_map p = {.perms = "rw-s", .path = NULL, .kernel_page_size = PAGE};

        /* A shared mapping the kernel gives no name: not known to be the VM's. */
        ck_assert_int_eq(proc_map_sharing(&p, PAGE), REGION_SHARED_FILE);
        /* Plain maps (no KernelPageSize) and an unknown base page size never look like hugetlbfs. */
        p.path = (char *)"/srv/big";
        p.kernel_page_size = 0;
        ck_assert_int_eq(proc_map_sharing(&p, PAGE), REGION_SHARED_FILE);
        p.kernel_page_size = 2u << 20;
        ck_assert_int_eq(proc_map_sharing(&p, 0), REGION_SHARED_FILE);
        ck_assert_int_eq(proc_map_sharing(&p, PAGE), REGION_SHARED_MEMORY);
        /* Private stays private, hugetlbfs or not. */
        memcpy(p.perms, "rw-p", 5);
        ck_assert_int_eq(proc_map_sharing(&p, PAGE), REGION_PRIVATE);
        ck_assert_str_eq(region_sharing_to_string(REGION_PRIVATE), "private");
        ck_assert_str_eq(region_sharing_to_string(REGION_SHARED_MEMORY), "shared-memory");
        ck_assert_str_eq(region_sharing_to_string(REGION_SHARED_FILE), "shared-file");
        ck_assert_ptr_null(region_sharing_to_string(_REGION_SHARING_MAX));
}
END_TEST

TEST_MAIN("region-sharing", test_each_class, test_look_alikes_are_files,
          test_mixed_takes_the_most_conservative, test_gaps_and_bad_ranges, test_single_mappings)
