/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Each rule of the auto policy, with numbers. */
#include <check.h>
#include <stdlib.h>

#include "vnuma/policies/policy-rules.h"

#include "snap-builder.h"

START_TEST(test_decay)
{
        uint64_t stat[2] = {100, 40}, fresh[2] = {10, 0}, none[2] = {0, 0};

        rule_decay(stat, fresh, 2);
        ck_assert_uint_eq(stat[0], 60);
        ck_assert_uint_eq(stat[1], 20);
        rule_decay(stat, none, 2);
        ck_assert_uint_eq(stat[0], 30);
        ck_assert_uint_eq(stat[1], 10);
}
END_TEST

START_TEST(test_argmax)
{
        uint64_t stat[4] = {5, 9, 9, 1}, zero[4] = {0};

        ck_assert_int_eq(rule_argmax(stat, 4, 0xf), 1);       /* tie -> lower position */
        ck_assert_int_eq(rule_argmax(stat, 4, 0xf & ~2u), 2); /* node 1 not allowed */
        ck_assert_int_eq(rule_argmax(stat, 4, 0x9), 0);
        ck_assert_int_eq(rule_argmax(zero, 4, 0xf), -1);
}
END_TEST

START_TEST(test_weight)
{
        uint64_t stat[2] = {250, 750}, zero[2] = {0, 0};

        ck_assert_int_eq(rule_weight(stat, 2, 0), 250);
        ck_assert_int_eq(rule_weight(stat, 2, 1), 750);
        ck_assert_int_eq(rule_weight(zero, 2, 1), 0);
}
END_TEST

START_TEST(test_capacity)
{
        struct snapshot *s = tb_snapshot(2, 4, 10 * TB_GIB, 0, 0, false);
        struct policy_ledger l = {};

        l.cpu_load[0] = 4.0;
        /* 4 CPUs * 125 % = 5 CPUs of demand, plus RULE_CPU_SLACK for noise. */
        ck_assert(rule_cpu_fits(&s->host, &l, 125, 0, 1.0 + RULE_CPU_SLACK));
        ck_assert(!rule_cpu_fits(&s->host, &l, 125, 0, 1.01 + RULE_CPU_SLACK));
        ck_assert(!rule_cpu_fits(&s->host, &l, 100, 0, 0.5));
        l.mem_free[1] = (int64_t)(10 * TB_GIB);
        ck_assert(rule_mem_fits(&l, 256 * TB_MIB, 1, 10 * TB_GIB - 256 * TB_MIB));
        ck_assert(!rule_mem_fits(&l, 256 * TB_MIB, 1, 10 * TB_GIB - 256 * TB_MIB + 1));
        snapshot_free(s);
}
END_TEST

START_TEST(test_swap_threshold)
{
        /* p moves 0 -> 1; cur sits on 1 and prefers node 2 (no adjustment). */
        uint64_t p30[3] = {485, 515, 0}, p29[3] = {4855, 5145, 0}, cur[3] = {500, 500, 0};
        long imp30 = rule_swap_improvement(p30, cur, 3, 0, 1, 2);
        long imp29 = rule_swap_improvement(p29, cur, 3, 0, 1, 2);

        ck_assert_int_eq(imp30, 30);
        ck_assert_int_eq(imp29, 29);
        ck_assert(rule_swap_accept(imp30, 0));
        ck_assert(!rule_swap_accept(imp29, 0));
        /* Must beat the best by more than SMALLIMP / 2 = 15. */
        ck_assert(!rule_swap_accept(45, 30));
        ck_assert(rule_swap_accept(46, 30));
}
END_TEST

START_TEST(test_swap_adjustments)
{
        /* taskimp = 1000 - 0; cur: w(src=0) 0, w(dst=1) 840 -> imp = 160. */
        uint64_t p[3] = {0, 100, 0}, cur[3] = {0, 840, 160};

        ck_assert_int_eq(rule_swap_improvement(p, cur, 3, 0, 1, 2), 160);
        ck_assert_int_eq(rule_swap_improvement(p, cur, 3, 0, 1, 1), 150); /* -imp/16 */
        ck_assert_int_eq(rule_swap_improvement(p, cur, 3, 0, 1, 0), 180); /* +imp/8 */
}
END_TEST

START_TEST(test_hysteresis)
{
        struct policy_params p;
        int cand = -1;
        unsigned streak = 0;

        policy_params_init(&p);
        p.hysteresis_pct = 125;
        p.hysteresis_periods = 3;
        /* No home yet: take the challenger at once. */
        ck_assert(rule_hysteresis(&p, -1, 0, 1, 10, &cand, &streak));
        /* 124 vs 100: not clearly better. */
        ck_assert(!rule_hysteresis(&p, 0, 100, 1, 124, &cand, &streak));
        ck_assert_int_eq(streak, 0);
        ck_assert(!rule_hysteresis(&p, 0, 100, 1, 125, &cand, &streak));
        ck_assert(!rule_hysteresis(&p, 0, 100, 1, 125, &cand, &streak));
        ck_assert_int_eq(streak, 2);
        /* A different challenger restarts the streak. */
        ck_assert(!rule_hysteresis(&p, 0, 100, 2, 200, &cand, &streak));
        ck_assert_int_eq(streak, 1);
        ck_assert_int_eq(cand, 2);
        ck_assert(!rule_hysteresis(&p, 0, 100, 2, 200, &cand, &streak));
        ck_assert(rule_hysteresis(&p, 0, 100, 2, 200, &cand, &streak));
        ck_assert_int_eq(cand, -1);
        /* The home itself never "wins". */
        ck_assert(!rule_hysteresis(&p, 0, 100, 0, 1000, &cand, &streak));
}
END_TEST

START_TEST(test_spread)
{
        struct snapshot *s = tb_snapshot(4, 4, 16 * TB_GIB, 0, 0, false);
        uint64_t usable[4] = {16 * TB_GIB, 16 * TB_GIB, 16 * TB_GIB, 16 * TB_GIB}, resident[4] = {0};

        /* 40 GiB needs three 16 GiB nodes; from node 0 the closest are 1 (25) and 2 (30). */
        ck_assert_uint_eq(rule_spread_nodes(&s->host, usable, 0, 40 * TB_GIB, resident, 0xf), 0x7);
        ck_assert_uint_eq(rule_spread_nodes(&s->host, usable, 3, 40 * TB_GIB, resident, 0xf), 0xe);
        ck_assert_uint_eq(rule_spread_nodes(&s->host, usable, 0, 30 * TB_GIB, resident, 0xf), 0x3);
        /* Node 1 is full: 30 GiB from node 0 takes 0 and 2. */
        usable[1] = 0;
        ck_assert_uint_eq(rule_spread_nodes(&s->host, usable, 0, 30 * TB_GIB, resident, 0xf), 0x5);
        /* Nothing holds 100 GiB. */
        ck_assert_uint_eq(rule_spread_nodes(&s->host, usable, 0, 100 * TB_GIB, resident, 0xf), 0);
        snapshot_free(s);
}
END_TEST

START_TEST(test_scan_period)
{
        struct policy_params p;

        policy_params_init(&p);
        p.scan_period_min = 1;
        p.scan_period_max = 8;
        p.local_threshold_pct = 70;
        ck_assert_uint_eq(rule_scan_period(&p, 1, 70), 2);
        ck_assert_uint_eq(rule_scan_period(&p, 2, 95), 3);
        ck_assert_uint_eq(rule_scan_period(&p, 8, 100), 8);
        ck_assert_uint_eq(rule_scan_period(&p, 6, 69), 3);
        ck_assert_uint_eq(rule_scan_period(&p, 1, 10), 1);
}
END_TEST

START_TEST(test_two_stage)
{
        struct cell_state cs = {};

        /* Without reserved room nothing may move. */
        ck_assert(!rule_two_stage(&cs, 3, true));
        ck_assert_int_eq(rule_two_stage_reserve(&cs, 100), 0);
        ck_assert(!rule_two_stage(&cs, 3, true)); /* first sighting */
        ck_assert(rule_two_stage(&cs, 3, true));  /* second consecutive */
        ck_assert(!rule_two_stage(&cs, 3, false));
        ck_assert(!rule_two_stage(&cs, 3, true)); /* the chain was broken */
        ck_assert(!rule_two_stage(&cs, 99, true));
        rule_two_stage_clear(&cs);
        ck_assert(!rule_two_stage(&cs, 99, true));
        ck_assert(rule_two_stage(&cs, 99, true));
        free(cs.seen_misplaced);
}
END_TEST

START_TEST(test_budget)
{
        struct policy_state st = {};
        struct vm_state vs = {};
        struct policy_params p;

        policy_params_init(&p);
        ck_assert_uint_eq(rule_budget_for_period(&p, 256 * TB_MIB, TB_PERIOD_NS), 256 * TB_MIB);
        ck_assert_uint_eq(rule_budget_for_period(&p, 256 * TB_MIB, TB_PERIOD_NS / 2), 128 * TB_MIB);
        /* A period four times late brings the cap's worth of budget, not four periods'. */
        p.budget_period_max_ns = 2 * TB_PERIOD_NS;
        ck_assert_uint_eq(rule_budget_for_period(&p, 256 * TB_MIB, 4 * TB_PERIOD_NS), 512 * TB_MIB);
        ck_assert_uint_eq(rule_budget_for_period(&p, 256 * TB_MIB, TB_PERIOD_NS), 256 * TB_MIB);
        vs.budget_left = 256 * TB_MIB;
        st.ledger.host_budget_left = 100 * TB_MIB;
        ck_assert_uint_eq(rule_budget_available(&st, &vs), 100 * TB_MIB);
        rule_budget_charge(&st, &vs, 64 * TB_MIB);
        ck_assert_uint_eq(rule_budget_available(&st, &vs), 36 * TB_MIB);
        ck_assert_uint_eq(vs.budget_left, 192 * TB_MIB);
        ck_assert_uint_eq(vs.budget_debt, 0);

        /* A chunk larger than a whole budget goes alone, at an untouched budget, and owes the rest. */
        ck_assert(rule_budget_allows(256 * TB_MIB, 256 * TB_MIB, TB_GIB));
        ck_assert(!rule_budget_allows(192 * TB_MIB, 256 * TB_MIB, TB_GIB));
        ck_assert(!rule_budget_allows(192 * TB_MIB, 256 * TB_MIB, 200 * TB_MIB));
        ck_assert(rule_budget_allows(192 * TB_MIB, 256 * TB_MIB, 192 * TB_MIB));
        ck_assert(!rule_budget_allows(0, 0, TB_GIB)); /* a rate of 0 moves nothing */
        vs.budget_left = st.ledger.host_budget_left = 256 * TB_MIB;
        rule_budget_charge(&st, &vs, TB_GIB);
        ck_assert_uint_eq(vs.budget_left, 0);
        ck_assert_uint_eq(vs.budget_debt, 768 * TB_MIB);
        ck_assert_uint_eq(st.host_budget_debt, 768 * TB_MIB);
        ck_assert_uint_eq(rule_budget_after_debt(256 * TB_MIB, &vs.budget_debt), 0);
        ck_assert_uint_eq(vs.budget_debt, 512 * TB_MIB);
        vs.budget_debt = 100 * TB_MIB;
        ck_assert_uint_eq(rule_budget_after_debt(256 * TB_MIB, &vs.budget_debt), 156 * TB_MIB);
        ck_assert_uint_eq(vs.budget_debt, 0);
}
END_TEST

START_TEST(test_cpuless)
{
        /* Node 2 has no CPUs; it is 30 from node 0 and 25 from node 1. */
        struct snapshot *s = tb_snapshot(3, 4, 16 * TB_GIB, 0, 0x4, false);

        ck_assert_int_eq(s->host.distance[2][0], 30);
        ck_assert_int_eq(rule_cpu_node_for(&s->host, 2), 1);
        ck_assert_int_eq(rule_cpu_node_for(&s->host, 0), 0);
        snapshot_free(s);
}
END_TEST

static Suite *rules_suite(void)
{
        Suite *s = suite_create("rules");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_decay);
        tcase_add_test(tc, test_argmax);
        tcase_add_test(tc, test_weight);
        tcase_add_test(tc, test_capacity);
        tcase_add_test(tc, test_swap_threshold);
        tcase_add_test(tc, test_swap_adjustments);
        tcase_add_test(tc, test_hysteresis);
        tcase_add_test(tc, test_spread);
        tcase_add_test(tc, test_scan_period);
        tcase_add_test(tc, test_two_stage);
        tcase_add_test(tc, test_budget);
        tcase_add_test(tc, test_cpuless);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(rules_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
