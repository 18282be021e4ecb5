/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* DAMON's sysfs interface: the value parsers, the split of tried regions among targets, and the
 * controller on copies of the fixture trees under tests/data/damon (claim, take over, refuse,
 * start, read, give back). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "test-util.h"
#include "vnuma/basic/parse-util.h"
#include "vnuma/host/damon.h"

#define A  UINT64_C(0x7f0000000000)
#define MB (UINT64_C(1) << 20)

START_TEST(test_parse_values)
{
        uint64_t v = 7;
        bool on = false;

        ck_assert_int_eq(damon_parse_u64("140737488355328\n", DAMON_ADDRESS_MAX, &v), 0);
        ck_assert_uint_eq(v, UINT64_C(140737488355328));
        ck_assert_int_eq(damon_parse_u64("20", 20, &v), 0);
        ck_assert_uint_eq(v, 20);
        ck_assert_int_eq(damon_parse_u64("21\n", 20, &v), -ERANGE);
        ck_assert_int_eq(damon_parse_u64("", 20, &v), -EBADMSG);
        ck_assert_int_eq(damon_parse_u64("\n", 20, &v), -EBADMSG);
        ck_assert_int_eq(damon_parse_u64("-1\n", UINT64_MAX, &v), -EBADMSG);
        ck_assert_int_eq(damon_parse_u64("12 34\n", UINT64_MAX, &v), -EBADMSG);
        ck_assert_int_eq(damon_parse_u64("12\n\n", UINT64_MAX, &v), -EBADMSG);
        ck_assert_int_eq(damon_parse_u64("0x10\n", UINT64_MAX, &v), -EBADMSG);
        ck_assert_int_eq(damon_parse_u64("99999999999999999999999\n", UINT64_MAX, &v), -EBADMSG);
        ck_assert_int_eq(damon_parse_u64(NULL, 1, &v), -EBADMSG);
        ck_assert_uint_eq(v, 20); /* untouched by the failures */

        ck_assert_int_eq(damon_parse_state("on\n", &on), 0);
        ck_assert(on);
        ck_assert_int_eq(damon_parse_state("off", &on), 0);
        ck_assert(!on);
        ck_assert_int_eq(damon_parse_state("commit\n", &on), -EBADMSG);
        ck_assert_int_eq(damon_parse_state("", &on), -EBADMSG);

        ck_assert(damon_ops_available("vaddr fvaddr paddr\n", "fvaddr"));
        ck_assert(damon_ops_available("vaddr fvaddr paddr\n", "paddr"));
        ck_assert(!damon_ops_available("vaddr paddr\n", "fvaddr"));
        ck_assert(!damon_ops_available("paddr\n", "vaddr")); /* a host with DAMON_PADDR only */
        ck_assert(!damon_ops_available("", "vaddr"));

        ck_assert(damon_token_is_ours((DAMON_TOKEN_MARK << DAMON_TOKEN_SHIFT) | 77));
        ck_assert(!damon_token_is_ours(1000)); /* DAMON's default reset interval */
        ck_assert(!damon_token_is_ours(0));
}
END_TEST

START_TEST(test_assign)
{
        const struct damon_range ra[] = {{A, A + 8 * MB}};
        const struct damon_range rb[] = {{A, A + 4 * MB}, {A + 16 * MB, A + 18 * MB}};
        const struct damon_target t[] = {{.pid = 10, .ranges = ra, .n_ranges = 1},
                                         {.pid = 11, .ranges = rb, .n_ranges = 2}};
        struct damon_region r[] = {
                {A, A + 2 * MB, 20}, {A + 2 * MB, A + 6 * MB, 0},   {A + 6 * MB, A + 8 * MB, 7},
                {A, A + 4 * MB, 5},  {A + 16 * MB, A + 17 * MB, 0}, {A + 17 * MB, A + 18 * MB, 10},
        };
        size_t first[2] = {}, count[2] = {};

        ck_assert_int_eq(damon_target_check(&t[0]), 0);
        ck_assert_int_eq(damon_target_check(&t[1]), 0);
        /* Same addresses in two processes: the tiling, not the address, tells them apart. */
        ck_assert_int_eq(damon_regions_assign(r, 6, t, 2, first, count), 0);
        ck_assert_uint_eq(first[0], 0);
        ck_assert_uint_eq(count[0], 3);
        ck_assert_uint_eq(first[1], 3);
        ck_assert_uint_eq(count[1], 3);

        /* One region short, one too many, a hole, an overlap, a region outside its target. */
        ck_assert_int_eq(damon_regions_assign(r, 5, t, 2, first, count), -EBADMSG);
        ck_assert_int_eq(damon_regions_assign(r, 6, t, 1, first, count), -EBADMSG);
        r[1].start += 4096;
        ck_assert_int_eq(damon_regions_assign(r, 6, t, 2, first, count), -EBADMSG);
        r[1].start -= 2 * 4096;
        ck_assert_int_eq(damon_regions_assign(r, 6, t, 2, first, count), -EBADMSG);
        r[1].start += 4096;
        r[4].start = A + 8 * MB;
        ck_assert_int_eq(damon_regions_assign(r, 6, t, 2, first, count), -EBADMSG);
        /* No targets and no regions is fine. */
        ck_assert_int_eq(damon_regions_assign(r, 0, t, 0, first, count), 0);

        /* Targets DAMON would refuse. */
        const struct damon_range unsorted[] = {{A + 4 * MB, A + 8 * MB}, {A, A + 4 * MB}};
        const struct damon_range unaligned[] = {{A + 1, A + 4 * MB}};
        const struct damon_range empty[] = {{A, A}};
        const struct damon_range high[] = {{DAMON_ADDRESS_MAX, DAMON_ADDRESS_MAX + 4096}};
        ck_assert_int_eq(damon_target_check(&(struct damon_target){10, unsorted, 2}), -EINVAL);
        ck_assert_int_eq(damon_target_check(&(struct damon_target){10, unaligned, 1}), -EINVAL);
        ck_assert_int_eq(damon_target_check(&(struct damon_target){10, empty, 1}), -EINVAL);
        ck_assert_int_eq(damon_target_check(&(struct damon_target){10, high, 1}), -EINVAL);
        ck_assert_int_eq(damon_target_check(&(struct damon_target){0, ra, 1}), -EINVAL);
        ck_assert_int_eq(damon_target_check(&(struct damon_target){10, ra, 0}), -EINVAL);
}
END_TEST

static char *admin_file(const char *root, const char *rel)
{
        char *text = NULL;

        if (read_full_file_at(root, rel, 4096, &text, NULL) < 0)
                return NULL;
        text[strcspn(text, "\n")] = '\0';
        return text;
}

#define ADMIN "kernel/mm/damon/admin/"
#define KD    ADMIN "kdamonds/0/"
#define SCH   KD "contexts/0/schemes/0/"

static void put(const char *root, const char *rel, const char *value)
{
        _cleanup_free_ char *path = NULL;
        FILE *f;

        ck_assert_int_eq(path_join_root(root, rel, &path), 0);
        f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs(value, f);
        fclose(f);
}

static void assert_file(const char *root, const char *rel, const char *want)
{
        _cleanup_free_ char *got = admin_file(root, rel);

        ck_assert_msg(got, "%s missing", rel);
        ck_assert_str_eq(got, want);
}

/* damon_ctl_claim refuses with err, says phrase (when given) and leaves nr_kdamonds at want. */
static void assert_refused(const char *root, int err, const char *phrase, const char *nr_kdamonds)
{
        _cleanup_(damon_ctl_freep) struct damon_ctl *c = NULL;
        _cleanup_free_ char *why = NULL;

        ck_assert_int_eq(damon_ctl_claim(root, &c, &why), err);
        ck_assert_ptr_null(c);
        ck_assert_ptr_nonnull(why);
        if (phrase)
                ck_assert_msg(strstr(why, phrase), "\"%s\" does not say \"%s\"", why, phrase);
        assert_file(root, ADMIN "kdamonds/nr_kdamonds", nr_kdamonds);
}

START_TEST(test_take_over_read_release)
{
        _cleanup_free_ char *root = test_copy_fixture_tree("test-damon", "damon/ours-running");
        _cleanup_(damon_ctl_freep) struct damon_ctl *c = NULL;
        _cleanup_free_ struct damon_region *r = NULL;
        _cleanup_free_ char *why = NULL, *token = NULL;
        size_t n = 0;
        uint64_t tok = 0;

        /* A kdamond with vnumad's mark, on: an earlier vnumad's, taken over and turned off. */
        ck_assert_int_eq(damon_ctl_claim(root, &c, &why), 0);
        bool was_on = false;
        ck_assert(damon_ctl_taken_over(c, &was_on));
        ck_assert(was_on);
        assert_file(root, KD "state", "off");
        assert_file(root, KD "contexts/0/operations", "fvaddr");
        assert_file(root, SCH "action", "stat");
        assert_file(root, SCH "access_pattern/sz/max", "18446744073709551615");
        assert_file(root, SCH "access_pattern/nr_accesses/max", "4294967295");
        assert_file(root, SCH "access_pattern/age/max", "4294967295");
        token = admin_file(root, SCH "quotas/reset_interval_ms");
        ck_assert_int_eq(safe_atou64(token, &tok), 0);
        ck_assert(damon_token_is_ours(tok));
        ck_assert_uint_ne(tok, (DAMON_TOKEN_MARK << DAMON_TOKEN_SHIFT) | 5); /* a token of its own */

        /* Start: attributes, targets and their ranges written, then "on". */
        const struct damon_range ra[] = {{A, A + 8 * MB}};
        const struct damon_range rb[] = {{A, A + 4 * MB}, {A + 16 * MB, A + 18 * MB}};
        const struct damon_target t[] = {{.pid = 10, .ranges = ra, .n_ranges = 1},
                                         {.pid = 11, .ranges = rb, .n_ranges = 2}};
        const struct damon_attrs a = {5000, 100000, 1000000, 10, 200};
        char dir[256];

        for (int i = 0; i < 2; i++) /* what writing nr_targets / nr_regions makes the kernel create */
                for (unsigned j = 0; j < t[i].n_ranges; j++) {
                        _cleanup_free_ char *p = NULL;
                        char cmd[2400];

                        snprintf(dir, sizeof(dir), KD "contexts/0/targets/%d/regions/%u", i, j);
                        ck_assert_int_eq(path_join_root(root, dir, &p), 0);
                        snprintf(cmd, sizeof(cmd),
                                 "mkdir -p '%s' && touch '%s/start' '%s/end' '%s/../nr_regions' "
                                 "'%s/../../pid_target'",
                                 p, p, p, p, p);
                        ck_assert_int_eq(system(cmd), 0);
                }
        ck_assert_int_eq(damon_ctl_start(c, &a, t, 2), 0);
        assert_file(root, KD "state", "on");
        assert_file(root, KD "contexts/0/monitoring_attrs/intervals/sample_us", "5000");
        assert_file(root, KD "contexts/0/monitoring_attrs/intervals/aggr_us", "100000");
        assert_file(root, KD "contexts/0/monitoring_attrs/nr_regions/max", "200");
        assert_file(root, KD "contexts/0/targets/nr_targets", "2");
        assert_file(root, KD "contexts/0/targets/1/pid_target", "11");
        assert_file(root, KD "contexts/0/targets/1/regions/nr_regions", "2");
        assert_file(root, KD "contexts/0/targets/1/regions/1/start", "139637993504768"); /* A + 16 MiB */
        assert_file(root, KD "contexts/0/targets/1/regions/1/end", "139637995601920");
        /* A bad target is refused before anything is written. */
        const struct damon_range bad[] = {{A + 1, A + 4 * MB}};
        const struct damon_target tb = {.pid = 12, .ranges = bad, .n_ranges = 1};
        ck_assert_int_eq(damon_ctl_start(c, &a, &tb, 1), -EINVAL);
        assert_file(root, KD "state", "on");

        /* The tried regions of the fixture, in the kernel's order. */
        ck_assert_int_eq(damon_ctl_update(c, &r, &n), 0);
        assert_file(root, KD "state",
                    "update_schemes_tried_regions"); /* the request, as a plain file keeps it */
        ck_assert_uint_eq(n, 6);
        ck_assert_uint_eq(r[0].start, A);
        ck_assert_uint_eq(r[0].end, A + 2 * MB);
        ck_assert_uint_eq(r[0].nr_accesses, 20);
        ck_assert_uint_eq(r[5].start, A + 17 * MB);
        ck_assert_uint_eq(r[5].nr_accesses, 10);

        /* Give back: off and removed. */
        put(root, KD "state", "on\n");
        c = damon_ctl_free(c);
        assert_file(root, KD "state", "off");
        assert_file(root, ADMIN "kdamonds/nr_kdamonds", "0");
        ck_assert_int_eq(test_remove_tree(root), 0);
}
END_TEST

START_TEST(test_refuse_foreign)
{
        _cleanup_free_ char *root = test_copy_fixture_tree("test-damon", "damon/ours-running");

        /* Someone else's kdamond (DAMON's default reset interval, no mark): left exactly as it is. */
        put(root, SCH "quotas/reset_interval_ms", "1000\n");
        put(root, KD "contexts/0/operations", "paddr\n");
        assert_refused(root, -EBUSY, "someone else", "1");
        assert_refused(root, -EBUSY, "is on", "1");
        assert_file(root, KD "state", "on");
        assert_file(root, KD "contexts/0/operations", "paddr");

        /* Even when it is off: its configuration is someone's. */
        put(root, KD "state", "off\n");
        assert_refused(root, -EBUSY, "is off", "1");

        /* Two kdamonds, the first ours: still not ours to reshape. */
        put(root, SCH "quotas/reset_interval_ms", "33335497870802949\n");
        put(root, ADMIN "kdamonds/nr_kdamonds", "2\n");
        assert_refused(root, -EBUSY, NULL, "2");
        ck_assert_int_eq(test_remove_tree(root), 0);
}
END_TEST

START_TEST(test_claim_fresh_and_missing_features)
{
        _cleanup_free_ char *root = test_copy_fixture_tree("test-damon", "damon/ours-running");
        _cleanup_(damon_ctl_freep) struct damon_ctl *c = NULL;
        _cleanup_free_ char *why = NULL, *sch = NULL, *cmd = NULL;

        /* No kdamonds: one is made (the fixture's directories stand for what the kernel creates). */
        put(root, ADMIN "kdamonds/nr_kdamonds", "0\n");
        put(root, KD "state", "off\n");
        ck_assert_int_eq(damon_ctl_claim(root, &c, &why), 0);
        ck_assert(!damon_ctl_taken_over(c, NULL));
        assert_file(root, ADMIN "kdamonds/nr_kdamonds", "1");
        c = damon_ctl_free(c);
        assert_file(root, ADMIN "kdamonds/nr_kdamonds", "0");

        /* A kernel without fvaddr (like one built with DAMON_PADDR only): refused, and removed again. */
        put(root, KD "contexts/0/avail_operations", "paddr\n");
        assert_refused(root, -EOPNOTSUPP, "fvaddr", "0");

        /* Before 6.2: no tried_regions. */
        put(root, KD "contexts/0/avail_operations", "vaddr fvaddr paddr\n");
        ck_assert_int_eq(path_join_root(root, SCH "tried_regions", &sch), 0);
        ck_assert_int_ge(asprintf(&cmd, "rm -rf '%s'", sch), 0);
        ck_assert_int_eq(system(cmd), 0);
        assert_refused(root, -EOPNOTSUPP, "tried_regions", "0");
        ck_assert_int_eq(test_remove_tree(root), 0);

        /* No DAMON sysfs interface at all. */
        _cleanup_free_ char *none = NULL;
        ck_assert_int_eq(test_make_tmpdir("test-damon", &none), 0);
        ck_assert_int_eq(damon_ctl_claim(none, &c, &why), -ENOENT);
        ck_assert_int_eq(test_remove_tree(none), 0);
}
END_TEST

START_TEST(test_tried_regions_bounds)
{
        _cleanup_free_ char *root = test_copy_fixture_tree("test-damon", "damon/ours-running");
        _cleanup_(damon_ctl_freep) struct damon_ctl *c = NULL;
        _cleanup_free_ struct damon_region *r = NULL;
        _cleanup_free_ char *why = NULL;
        size_t n = 0;

        ck_assert_int_eq(damon_ctl_claim(root, &c, &why), 0);
        /* nr_accesses past any aggr/sample ratio. */
        put(root, SCH "tried_regions/2/nr_accesses", "1000001\n");
        ck_assert_int_eq(damon_ctl_update(c, &r, &n), -EBADMSG);
        put(root, SCH "tried_regions/2/nr_accesses", "7\n");
        /* An empty region. */
        put(root, SCH "tried_regions/2/end", "139637983019008\n");
        ck_assert_int_eq(damon_ctl_update(c, &r, &n), -EBADMSG);
        put(root, SCH "tried_regions/2/end", "139637985116160\n");
        /* An address past user space. */
        put(root, SCH "tried_regions/0/end", "144115188075855873\n");
        ck_assert_int_eq(damon_ctl_update(c, &r, &n), -EBADMSG);
        put(root, SCH "tried_regions/0/end", "139637978824704\n");
        ck_assert_int_eq(damon_ctl_update(c, &r, &n), 0);
        free(TAKE_PTR(r));
        ck_assert_uint_eq(n, 6);
        /* A gap in the numbering, and an index past the bound. */
        {
                _cleanup_free_ char *p = NULL, *cmd = NULL;

                ck_assert_int_eq(path_join_root(root, SCH "tried_regions", &p), 0);
                ck_assert_int_ge(asprintf(&cmd, "mv '%s/5' '%s/9'", p, p), 0);
                ck_assert_int_eq(system(cmd), 0);
                ck_assert_int_eq(damon_ctl_update(c, &r, &n), -EBADMSG);
                free(cmd);
                ck_assert_int_ge(asprintf(&cmd, "mv '%s/9' '%s/70000'", p, p), 0);
                ck_assert_int_eq(system(cmd), 0);
                ck_assert_int_eq(damon_ctl_update(c, &r, &n), -E2BIG);
        }
        c = damon_ctl_free(c);
        ck_assert_int_eq(test_remove_tree(root), 0);
}
END_TEST

TEST_MAIN("damon", test_parse_values, test_assign, test_take_over_read_release, test_refuse_foreign,
          test_claim_fresh_and_missing_features, test_tried_regions_bounds)
