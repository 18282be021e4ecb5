/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sampler capabilities from fixture roots, the auto/explicit choice, and sampler_new(). */
#include <check.h>

#include "../test-util.h"
#include "sampler-select.h"
#include "vnuma/sampler/sampler.h"

static char *data_path(const char *rel)
{
        char *p = NULL;

        ck_assert_int_eq(path_join_root(getenv("VNUMA_TEST_DATA"), rel, &p), 0);
        return p;
}

static int caps_of(const char *root_rel, struct sampler_caps *caps, const char **what, unsigned *line)
{
        _cleanup_free_ char *root = data_path(root_rel), *sys = data_path("sampler/sysfs-damon");
        return sampler_caps_read(root, sys, false, caps, what, line);
}

START_TEST(test_caps_from_roots)
{
        struct sampler_caps caps;
        const char *what = NULL;
        unsigned line = 0;

        ck_assert_int_eq(caps_of("sampler/roots/hinting", &caps, NULL, NULL), 0);
        ck_assert(caps.numa_balancing && caps.sched_numa_faults && !caps.soft_dirty && caps.damon);

        ck_assert_int_eq(caps_of("sampler/roots/balancing-off", &caps, NULL, NULL), 0);
        ck_assert(!caps.numa_balancing && caps.sched_numa_faults);

        ck_assert_int_eq(caps_of("sampler/roots/no-faults", &caps, NULL, NULL), 0);
        ck_assert(caps.numa_balancing && !caps.sched_numa_faults);

        /* 2 = memory tiering only: no per-task hinting statistics worth reading. */
        ck_assert_int_eq(caps_of("sampler/roots/tiering", &caps, NULL, NULL), 0);
        ck_assert(!caps.numa_balancing && caps.sched_numa_faults);

        ck_assert_int_eq(caps_of("sampler/roots/no-sched", &caps, NULL, NULL), 0);
        ck_assert(caps.numa_balancing && !caps.sched_numa_faults);

        ck_assert_int_eq(caps_of("sampler/roots/does-not-exist", &caps, NULL, NULL), 0);
        ck_assert(!caps.numa_balancing && !caps.sched_numa_faults);

        ck_assert_int_eq(caps_of("sampler/roots/bad-balancing", &caps, &what, &line), -EBADMSG);
        ck_assert_str_eq(what, "/sys/kernel/numa_balancing");
        ck_assert_uint_eq(line, 1);
        ck_assert_int_eq(caps_of("sampler/roots/bad-sched", &caps, &what, &line), -EBADMSG);
        ck_assert_str_eq(what, "/thread-self/sched");
        ck_assert_uint_eq(line, 33);

        /* No DAMON directory below the real-looking 2-node sysfs fixture. */
        _cleanup_free_ char *root = data_path("sampler/roots/hinting"), *sys = data_path("sysfs-2node");
        ck_assert_int_eq(sampler_caps_read(root, sys, false, &caps, NULL, NULL), 0);
        ck_assert(!caps.damon);
        /* The soft-dirty probe needs ROOT/self/pagemap: absent below a fixture root. */
        ck_assert_int_eq(sampler_caps_read(root, sys, true, &caps, NULL, NULL), 0);
        ck_assert(!caps.soft_dirty);
}
END_TEST

START_TEST(test_select)
{
        const struct sampler_caps all = {true, true, true, true}, none = {}, sd_only = {.soft_dirty = true},
                                  balancing_no_faults = {.numa_balancing = true, .soft_dirty = true},
                                  no_damon = {true, true, true, false};
        unsigned flags = 99;

        /* DAMON first: it ranks every chunk by reads and writes, at the kdamond's cost, not ours. */
        ck_assert_int_eq(sampler_select(SAMPLER_AUTO, &all, &flags), 0);
        ck_assert_uint_eq(flags, SAMPLER_USE_DAMON);
        ck_assert_int_eq(sampler_select(SAMPLER_AUTO, &no_damon, &flags), 0);
        ck_assert_uint_eq(flags, SAMPLER_USE_HINTING);
        ck_assert_int_eq(sampler_select(SAMPLER_DAMON, &all, &flags), 0);
        ck_assert_uint_eq(flags, SAMPLER_USE_DAMON);
        ck_assert_int_eq(sampler_select(SAMPLER_AUTO, &balancing_no_faults, &flags), 0);
        ck_assert_uint_eq(flags, SAMPLER_USE_SOFT_DIRTY);
        ck_assert_int_eq(sampler_select(SAMPLER_AUTO, &sd_only, &flags), 0);
        ck_assert_uint_eq(flags, SAMPLER_USE_SOFT_DIRTY);
        ck_assert_int_eq(sampler_select(SAMPLER_AUTO, &none, &flags), 0);
        ck_assert_uint_eq(flags, 0);

        ck_assert_int_eq(sampler_select(SAMPLER_RESIDENCY, &all, &flags), 0);
        ck_assert_uint_eq(flags, 0);
        ck_assert_int_eq(sampler_select(SAMPLER_SOFT_DIRTY, &all, &flags), 0);
        ck_assert_uint_eq(flags, SAMPLER_USE_SOFT_DIRTY);
        ck_assert_int_eq(sampler_select(SAMPLER_HINTING, &all, &flags), 0);
        ck_assert_uint_eq(flags, SAMPLER_USE_HINTING);

        flags = 77;
        ck_assert_int_eq(sampler_select(SAMPLER_HINTING, &balancing_no_faults, &flags), -EOPNOTSUPP);
        ck_assert_int_eq(sampler_select(SAMPLER_SOFT_DIRTY, &none, &flags), -EOPNOTSUPP);
        ck_assert_int_eq(sampler_select(SAMPLER_DAMON, &no_damon, &flags), -EOPNOTSUPP);
        ck_assert_int_eq(sampler_select((enum sampler_kind)42, &all, &flags), -EINVAL);
        ck_assert_uint_eq(flags, 77);
}
END_TEST

static int new_at_sys(const char *root_rel, const char *sys, enum sampler_kind kind, uint64_t window,
                      uint64_t chunk, struct sampler **ret)
{
        _cleanup_free_ char *root = data_path(root_rel);
        struct sampler_config cfg;

        sampler_config_init(&cfg);
        cfg.procfs_root = root;
        cfg.sysfs_root = sys;
        cfg.kind = kind;
        if (window)
                cfg.window_bytes = window;
        if (chunk)
                cfg.chunk_bytes = chunk;
        return sampler_new(&cfg, ret);
}

static int new_at(const char *root_rel, enum sampler_kind kind, uint64_t window, uint64_t chunk,
                  struct sampler **ret)
{
        _cleanup_free_ char *sys = data_path("sysfs-2node");
        return new_at_sys(root_rel, sys, kind, window, chunk, ret);
}

START_TEST(test_sampler_new)
{
        _cleanup_(sampler_freep) struct sampler *s = NULL;

        ck_assert_int_eq(new_at("sampler/roots/hinting", SAMPLER_AUTO, 0, 0, &s), 0);
        ck_assert_str_eq(sampler_describe(s), "residency+hinting");
        ck_assert_uint_eq(sampler_flags(s), SAMPLER_USE_HINTING);
        s = sampler_free(s);

        /* numa_balancing=0 and no usable soft-dirty below the fixture root: residency alone. */
        ck_assert_int_eq(new_at("sampler/roots/balancing-off", SAMPLER_AUTO, 0, 0, &s), 0);
        ck_assert_str_eq(sampler_describe(s), "residency");
        s = sampler_free(s);

        ck_assert_int_eq(new_at("sampler/roots/hinting", SAMPLER_RESIDENCY, 0, 0, &s), 0);
        ck_assert_str_eq(sampler_describe(s), "residency");
        s = sampler_free(s);

        ck_assert_int_eq(new_at("sampler/roots/balancing-off", SAMPLER_HINTING, 0, 0, &s), -EOPNOTSUPP);
        ck_assert_int_eq(new_at("sampler/roots/hinting", SAMPLER_SOFT_DIRTY, 0, 0, &s), -EOPNOTSUPP);
        ck_assert_int_eq(new_at("sampler/roots/hinting", SAMPLER_DAMON, 0, 0, &s), -EOPNOTSUPP);
        /* A DAMON directory without kdamonds to claim: asked for by name it fails, auto goes on. */
        _cleanup_free_ char *bare = data_path("sampler/sysfs-damon");
        ck_assert_int_eq(new_at_sys("sampler/roots/hinting", bare, SAMPLER_DAMON, 0, 0, &s), -ENOENT);
        ck_assert_int_eq(new_at_sys("sampler/roots/hinting", bare, SAMPLER_AUTO, 0, 0, &s), 0);
        ck_assert_str_eq(sampler_describe(s), "residency+hinting");
        s = sampler_free(s);
        ck_assert_int_eq(new_at("sampler/roots/bad-sched", SAMPLER_AUTO, 0, 0, &s), -EBADMSG);
        /* Chunk not a power of two, below 4 KiB, or bigger than the window. */
        ck_assert_int_eq(new_at("sampler/roots/hinting", SAMPLER_AUTO, 0, 3 << 20, &s), -EINVAL);
        ck_assert_int_eq(new_at("sampler/roots/hinting", SAMPLER_AUTO, 0, 2048, &s), -EINVAL);
        ck_assert_int_eq(new_at("sampler/roots/hinting", SAMPLER_AUTO, 1 << 20, 2 << 20, &s), -EINVAL);
        ck_assert_ptr_null(s);
        ck_assert_ptr_null(sampler_free(NULL));
}
END_TEST

START_TEST(test_kind_strings)
{
        for (int k = 0; k < _SAMPLER_KIND_MAX; k++)
                ck_assert_int_eq(sampler_kind_from_string(sampler_kind_to_string(k)), k);
        ck_assert_int_eq(sampler_kind_from_string("soft-dirty"), SAMPLER_SOFT_DIRTY);
        ck_assert_int_eq(sampler_kind_from_string("softdirty"), -EINVAL);
        ck_assert_int_eq(sampler_kind_from_string(NULL), -EINVAL);
        ck_assert_ptr_null(sampler_kind_to_string(_SAMPLER_KIND_MAX));
        ck_assert_str_eq(sampler_issue_kind_to_string(SAMPLER_ISSUE_GONE), "gone");
}
END_TEST

TEST_MAIN("sampler-select", test_caps_from_roots, test_select, test_sampler_new, test_kind_strings)
