/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The DAMON sampler: hotness from overlapping regions, the monitoring attributes per period, a
 * VM's target ranges, and the auto choice with its fallback on fixture sysfs trees. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../test-util.h"
#include "sampler-damon.h"
#include "vnuma/host/topology.h"
#include "vnuma/sampler/sampler.h"

#define MB (UINT64_C(1) << 20)
#define A  UINT64_C(0x7f0000000000)

START_TEST(test_hotness)
{
        /* 2 MiB fully hot, 4 MiB cold, 2 MiB at 7/20, then a gap, then 1 MiB at 10/20. */
        const struct damon_region r[] = {
                {A, A + 2 * MB, 20},
                {A + 2 * MB, A + 6 * MB, 0},
                {A + 6 * MB, A + 8 * MB, 7},
                {A + 16 * MB, A + 17 * MB, 10},
        };

        /* A 2 MiB chunk on the hot region: its 512 pages, all hot. */
        ck_assert_uint_eq(damon_range_hotness(r, 4, A, 2 * MB, 20), 512);
        /* Half hot, half cold: weighted by the overlap. */
        ck_assert_uint_eq(damon_range_hotness(r, 4, A + 1 * MB, 2 * MB, 20), 256);
        ck_assert_uint_eq(damon_range_hotness(r, 4, A + 2 * MB, 2 * MB, 20), 0);
        /* 512 pages x 7/20 = 179.2, rounded up. */
        ck_assert_uint_eq(damon_range_hotness(r, 4, A + 6 * MB, 2 * MB, 20), 180);
        /* Over the gap: only the covered part counts. */
        ck_assert_uint_eq(damon_range_hotness(r, 4, A + 15 * MB, 2 * MB, 20), 128);
        ck_assert_uint_eq(damon_range_hotness(r, 4, A + 10 * MB, 2 * MB, 20), 0);
        /* Any access at all is at least 1: one page seen once. */
        const struct damon_region once[] = {{A, A + 4096, 1}};
        ck_assert_uint_eq(damon_range_hotness(once, 1, A, 2 * MB, 20), 1);
        /* nr_accesses above max_acc is clamped (a kernel with another ratio). */
        const struct damon_region over[] = {{A, A + 2 * MB, 1000}};
        ck_assert_uint_eq(damon_range_hotness(over, 1, A, 2 * MB, 20), 512);
        /* Nothing, or before every region. */
        ck_assert_uint_eq(damon_range_hotness(r, 0, A, 2 * MB, 20), 0);
        ck_assert_uint_eq(damon_range_hotness(r, 4, A - 2 * MB, 2 * MB, 20), 0);
        ck_assert_uint_eq(damon_range_hotness(r, 4, A, 2 * MB, 0), 0);
        /* A whole 1 GiB hugetlb chunk over the 8 MiB: 512 + 0 + 180-ish, one rounding. */
        ck_assert_uint_eq(damon_range_hotness(r, 4, A, 1024 * MB, 20),
                          (uint64_t)(512 + 179.2 + 128 + 0.999));
}
END_TEST

START_TEST(test_attrs)
{
        struct damon_attrs a;

        /* A 1 s period: DAMON's defaults (5 ms, 100 ms), nr_accesses 0..20. */
        sampler_damon_attrs(UINT64_C(1000000000), 128, &a);
        ck_assert_uint_eq(a.sample_us, 5000);
        ck_assert_uint_eq(a.aggr_us, 100000);
        ck_assert_uint_eq(a.max_nr_regions, 128);
        ck_assert_uint_eq(a.min_nr_regions, 10);
        ck_assert_uint_eq(sampler_damon_max_accesses(&a), 20);
        /* A 200 ms period: a tenth of it, still 20 samples per aggregation. */
        sampler_damon_attrs(UINT64_C(200000000), 5, &a);
        ck_assert_uint_eq(a.aggr_us, 20000);
        ck_assert_uint_eq(a.sample_us, 1000);
        ck_assert_uint_eq(a.max_nr_regions, 20);
        /* Very short and very long periods, many chunks: the bounds. */
        sampler_damon_attrs(UINT64_C(10000000), 100000, &a);
        ck_assert_uint_eq(a.aggr_us, 10000);
        ck_assert_uint_eq(a.sample_us, 500);
        ck_assert_uint_eq(a.max_nr_regions, 1000);
        sampler_damon_attrs(UINT64_C(3600000000000), 0, &a);
        ck_assert_uint_eq(a.aggr_us, 100000);
        ck_assert(a.min_nr_regions >= 3 && a.min_nr_regions <= a.max_nr_regions);
}
END_TEST

START_TEST(test_ranges)
{
        struct guest_region c0[] = {{.size_bytes = 64 * MB, .hva_start = A + 128 * MB},
                                    {.size_bytes = 32 * MB, .hva_start = A}};
        struct guest_region c1[] = {{.size_bytes = 64 * MB, .hva_start = A + 64 * MB}};
        struct guest_cell cells[] = {{.id = 0, .n_regions = 2, .regions = c0},
                                     {.id = 1, .n_regions = 1, .regions = c1}};
        struct guest_model m = {.pid = 10, .n_cells = 2, .cells = cells};
        _cleanup_free_ struct damon_range *r = NULL;
        unsigned n = 0;

        /* Sorted; cell 1 ends where cell 0's second region starts: merged. */
        ck_assert_int_eq(sampler_damon_ranges(&m, &r, &n), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_uint_eq(r[0].start, A);
        ck_assert_uint_eq(r[0].end, A + 32 * MB);
        ck_assert_uint_eq(r[1].start, A + 64 * MB);
        ck_assert_uint_eq(r[1].end, A + 192 * MB);
        ck_assert_int_eq(damon_target_check(&(struct damon_target){10, r, n}), 0);
        free(TAKE_PTR(r));

        c1[0].hva_start += 512; /* unaligned */
        ck_assert_int_eq(sampler_damon_ranges(&m, &r, &n), -EINVAL);
        c1[0].hva_start -= 512;
        c1[0].size_bytes = 0;
        ck_assert_int_eq(sampler_damon_ranges(&m, &r, &n), -EINVAL);
        m.n_cells = 0;
        ck_assert_int_eq(sampler_damon_ranges(&m, &r, &n), -EINVAL);
}
END_TEST

static char *data_path(const char *rel)
{
        char *p = NULL;

        ck_assert_int_eq(path_join_root(getenv("VNUMA_TEST_DATA"), rel, &p), 0);
        return p;
}

static char *file_of(const char *root, const char *rel)
{
        char *t = NULL;

        ck_assert_int_eq(read_full_file_at(root, rel, 4096, &t, NULL), 0);
        t[strcspn(t, "\n")] = '\0';
        return t;
}

#define NR_KDAMONDS "kernel/mm/damon/admin/kdamonds/nr_kdamonds"
#define RESET       "kernel/mm/damon/admin/kdamonds/0/contexts/0/schemes/0/quotas/reset_interval_ms"

START_TEST(test_auto_choice)
{
        _cleanup_free_ char *sys = test_copy_fixture_tree("test-sampler-damon", "damon/ours-running"),
                            *proc = data_path("sampler/roots/balancing-off");
        _cleanup_(sampler_freep) struct sampler *s = NULL;
        struct sampler_config cfg;

        sampler_config_init(&cfg);
        cfg.procfs_root = proc;
        cfg.sysfs_root = sys;

        /* A kdamond to be had: auto takes DAMON. */
        ck_assert_int_eq(sampler_new(&cfg, &s), 0);
        ck_assert_str_eq(sampler_describe(s), "residency+damon");
        ck_assert_uint_eq(sampler_flags(s), SAMPLER_USE_DAMON);
        s = sampler_free(s);
        {
                _cleanup_free_ char *n = file_of(sys, NR_KDAMONDS);
                ck_assert_str_eq(n, "0"); /* given back */
        }

        /* Someone else's kdamond: auto falls back, and leaves it alone. */
        {
                _cleanup_free_ char *path = NULL;
                FILE *f;

                ck_assert_int_eq(path_join_root(sys, NR_KDAMONDS, &path), 0);
                f = fopen(path, "w");
                fputs("1\n", f);
                fclose(f);
                free(path);
                ck_assert_int_eq(path_join_root(sys, RESET, &path), 0);
                f = fopen(path, "w");
                fputs("1000\n", f);
                fclose(f);
        }
        ck_assert_int_eq(sampler_new(&cfg, &s), 0);
        ck_assert_str_eq(sampler_describe(s), "residency"); /* balancing off, no soft-dirty below the root */
        s = sampler_free(s);
        {
                _cleanup_free_ char *n = file_of(sys, NR_KDAMONDS), *reset = file_of(sys, RESET);
                ck_assert_str_eq(n, "1");
                ck_assert_str_eq(reset, "1000");
        }
        cfg.kind = SAMPLER_DAMON;
        ck_assert_int_eq(sampler_new(&cfg, &s), -EBUSY);
        ck_assert_int_eq(test_remove_tree(sys), 0);
}
END_TEST

static void put(const char *root, const char *rel, const char *fmt, ...) _printf_(3, 4);
static void put(const char *root, const char *rel, const char *fmt, ...)
{
        _cleanup_free_ char *path = NULL, *cmd = NULL;
        va_list ap;
        FILE *f;

        ck_assert_int_eq(path_join_root(root, rel, &path), 0);
        ck_assert_int_ge(asprintf(&cmd, "mkdir -p \"$(dirname '%s')\"", path), 0);
        ck_assert_int_eq(system(cmd), 0);
        f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        va_start(ap, fmt);
        vfprintf(f, fmt, ap);
        va_end(ap);
        fclose(f);
}

#define KD  "kernel/mm/damon/admin/kdamonds/0/"
#define TR  KD "contexts/0/schemes/0/tried_regions/"
#define TGT KD "contexts/0/targets/0/"

/* tried_regions as the kernel would list them for one target: (start offset, end offset, acc). */
static void put_regions(const char *sys, uint64_t base, const uint64_t (*r)[3], unsigned n)
{
        _cleanup_free_ char *dir = NULL, *cmd = NULL;

        ck_assert_int_eq(path_join_root(sys, TR, &dir), 0);
        ck_assert_int_ge(asprintf(&cmd, "rm -rf '%s'/[0-9]*", dir), 0);
        ck_assert_int_eq(system(cmd), 0);
        for (unsigned i = 0; i < n; i++) {
                char rel[256];

                snprintf(rel, sizeof(rel), TR "%u/start", i);
                put(sys, rel, "%llu\n", (unsigned long long)(base + r[i][0]));
                snprintf(rel, sizeof(rel), TR "%u/end", i);
                put(sys, rel, "%llu\n", (unsigned long long)(base + r[i][1]));
                snprintf(rel, sizeof(rel), TR "%u/nr_accesses", i);
                put(sys, rel, "%llu\n", (unsigned long long)r[i][2]);
                snprintf(rel, sizeof(rel), TR "%u/age", i);
                put(sys, rel, "3\n");
        }
}

/* The sampler's DAMON path end to end on this process's own memory (a one-cell "guest"), with
 * the kdamond's sysfs files a fixture tree: the targets it writes, the regions it reads, the
 * hotness per chunk, the access per node, and a period whose regions do not tile. */
START_TEST(test_sense_with_fixture_kdamond)
{
        const size_t size = 16 * MB, chunk = 2 * MB;
        _cleanup_free_ char *sys = test_copy_fixture_tree("test-sampler-damon", "damon/ours-running"),
                            *text = NULL;
        _cleanup_(sampler_freep) struct sampler *s = NULL;
        struct host_topology *topo = NULL;
        struct snapshot *snap = NULL;
        const struct sampler_issue *issues;
        struct sampler_config cfg;
        void *raw;
        char *mem;

        raw = mmap(NULL, size + chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ck_assert_ptr_ne(raw, MAP_FAILED);
        mem = (char *)(((uintptr_t)raw + chunk - 1) & ~(uintptr_t)(chunk - 1));
        for (size_t off = 0; off < size; off += 4096)
                ((volatile char *)mem)[off] = 1;
        struct guest_region region = {.backend_id = (char *)"m0",
                                      .size_bytes = size,
                                      .page_size = 4096,
                                      .hva_start = (uint64_t)(uintptr_t)mem};
        struct guest_cell cell = {.id = 0, .size_bytes = size, .n_regions = 1, .regions = &region};
        struct guest_vcpu vcpu = {.index = 0, .tid = gettid(), .cell = 0};
        idset_add(&cell.vcpus, 0);
        struct guest_model model = {.name = (char *)"self",
                                    .pid = getpid(),
                                    .n_cells = 1,
                                    .cells = &cell,
                                    .n_vcpus = 1,
                                    .vcpus = &vcpu};
        struct sampler_vm vm = {.id = 7, .name = "self", .model = &model};
        vm_policy_init(&vm.policy);

        /* What writing nr_targets and nr_regions makes the kernel create. */
        put(sys, TGT "pid_target", "0\n");
        put(sys, TGT "regions/nr_regions", "0\n");
        put(sys, TGT "regions/0/start", "0\n");
        put(sys, TGT "regions/0/end", "0\n");
        put(sys, KD "state", "off\n");
        const uint64_t regions[][3] = {{0, 4 * MB, 20}, {4 * MB, 12 * MB, 0}, {12 * MB, 16 * MB, 10}};
        put_regions(sys, (uint64_t)(uintptr_t)mem, regions, 3);

        /* The host's own nodes below the fixture root: the sampler reads their MemFree there. */
        {
                _cleanup_free_ char *cmd = NULL;
                ck_assert_int_ge(asprintf(&cmd, "ln -s /sys/devices '%s/devices'", sys), 0);
                ck_assert_int_eq(system(cmd), 0);
        }
        ck_assert_int_eq(host_topology_read(NULL, &topo), 0);
        sampler_config_init(&cfg);
        cfg.sysfs_root = sys;
        cfg.kind = SAMPLER_DAMON;
        cfg.chunk_bytes = chunk;
        ck_assert_int_eq(sampler_new(&cfg, &s), 0);
        ck_assert_str_eq(sampler_describe(s), "residency+damon");

        ck_assert_int_eq(sampler_sense(s, topo, &vm, 1, 1, UINT64_C(500000000), &snap), 0);
        ck_assert_uint_eq(sampler_issues(s, &issues), 0);
        /* The kdamond was started on this process's range, with the attributes for 500 ms. */
        text = file_of(sys, TGT "pid_target");
        ck_assert_int_eq(atoi(text), getpid());
        free(text);
        text = file_of(sys, TGT "regions/0/start");
        ck_assert_uint_eq(strtoull(text, NULL, 10), (uint64_t)(uintptr_t)mem);
        free(text);
        text = file_of(sys, TGT "regions/0/end");
        ck_assert_uint_eq(strtoull(text, NULL, 10), (uint64_t)(uintptr_t)mem + size);
        free(text);
        text = file_of(sys, KD "contexts/0/monitoring_attrs/intervals/aggr_us");
        ck_assert_str_eq(text, "50000");
        free(text);
        /* The request for regions went to the state file (a plain file keeps the last word). */
        text = file_of(sys, KD "state");
        ck_assert_str_eq(text, "update_schemes_tried_regions");
        free(TAKE_PTR(text));

        /* Chunks 0-1 wholly hot (20 of 20), 2-5 cold, 6-7 at 10 of 20. */
        ck_assert_uint_eq(snap->n_vms, 1);
        const struct snap_cell *c = &snap->vms[0].cells[0];
        uint64_t access = 0;
        ck_assert_uint_eq(c->n_chunks, 8);
        for (unsigned i = 0; i < 8; i++) {
                uint32_t want = i < 2 ? 512 : i >= 6 ? 256 : 0;
                ck_assert_msg(c->chunks[i].hotness == want, "chunk %u: hotness %u, want %u", i,
                              c->chunks[i].hotness, want);
                ck_assert_int_ge(c->chunks[i].node, 0);
        }
        for (unsigned h = 0; h < snap->host.n_nodes; h++)
                access += c->access[h];
        ck_assert_uint_eq(access, 2 * 512 + 2 * 256);
        snap = snapshot_free(snap);

        /* A region missing: they no longer tile the target; an issue, and hotness 0. */
        put(sys, KD "state", "on\n");
        put_regions(sys, (uint64_t)(uintptr_t)mem, regions, 2);
        ck_assert_int_eq(sampler_sense(s, topo, &vm, 1, 2, UINT64_C(500000000), &snap), 0);
        ck_assert_uint_eq(sampler_issues(s, &issues), 1);
        ck_assert_int_eq(issues[0].kind, SAMPLER_ISSUE_DAMON);
        ck_assert_int_eq(issues[0].error, -EBADMSG);
        c = &snap->vms[0].cells[0];
        for (unsigned i = 0; i < c->n_chunks; i++)
                ck_assert_uint_eq(c->chunks[i].hotness, 0);
        snap = snapshot_free(snap);

        /* Freed: the kdamond is turned off and removed. */
        put(sys, KD "state", "on\n");
        s = sampler_free(s);
        text = file_of(sys, KD "state");
        ck_assert_str_eq(text, "off");
        free(text);
        text = file_of(sys, "kernel/mm/damon/admin/kdamonds/nr_kdamonds");
        ck_assert_str_eq(text, "0");
        free(TAKE_PTR(text));

        host_topology_free(topo);
        munmap(raw, size + chunk);
        ck_assert_int_eq(test_remove_tree(sys), 0);
}
END_TEST

TEST_MAIN("sampler-damon", test_hotness, test_attrs, test_ranges, test_auto_choice,
          test_sense_with_fixture_kdamond)
