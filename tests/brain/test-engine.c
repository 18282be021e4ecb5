/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The engine with fake sampler, actuator and clock: dry-run, history, and its own budget guard. */
#include <check.h>
#include <stdlib.h>

#include "vnuma/engine/engine.h"

#include "snap-builder.h"

struct fake_world {
        unsigned n_applied;
        unsigned n_migrations;
        uint64_t now;
        int fail_type;        /* action type the actuator refuses, -1 none */
        unsigned n_pins;      /* vCPU and emulator pins applied */
        unsigned moves_of[8]; /* migrations of VM 100's chunks, by chunk index */
};

static int fake_sense(void *userdata, uint64_t period, struct snapshot **ret)
{
        struct snapshot *s = tb_snapshot(2, 4, 16 * TB_GIB, 2, 0, false);

        s->period = period;
        for (unsigned v = 0; v < 2; v++) {
                tb_vm(s, v, 100 + v, 1, 2, 1 * TB_GIB, 64 * TB_MIB);
                tb_cell_on(s, v, 0, 1);
                for (unsigned k = 0; k < 8; k++)
                        tb_chunk_on(s, v, 0, k, 0, 1); /* 512 MiB misplaced, cold */
                tb_vcpus_on(s, v, 0, 1, 0.5);
        }
        s->vms[1].policy.mode = VM_POLICY_OFF;
        tb_finish(s);
        *ret = s;
        return 0;
}

static int fake_apply(void *userdata, const struct snapshot *s, const struct action *a)
{
        struct fake_world *w = userdata;

        if ((int)a->type == w->fail_type)
                return -EPERM;
        w->n_applied++;
        if (a->type == ACTION_PIN_VCPUS || a->type == ACTION_PIN_EMULATOR)
                w->n_pins++;
        if (a->type == ACTION_MIGRATE) {
                w->n_migrations++;
                if (a->vm_id == 100 && a->offset / (64 * TB_MIB) < 8)
                        w->moves_of[a->offset / (64 * TB_MIB)]++;
        }
        return 0;
}

static uint64_t fake_now(void *userdata)
{
        struct fake_world *w = userdata;
        return w->now += 1000;
}

static const struct engine_sampler_ops sampler = {.sense = fake_sense};
static const struct engine_actuator_ops actuator = {.apply = fake_apply};
static const struct engine_clock_ops clock_ops = {.now_ns = fake_now};

/* A rogue policy: asks to move 1 GiB of every VM it is given, every period. */
static int greedy_plan_vm(const struct snapshot *s, unsigned vi, struct policy_state *st,
                          struct vm_state *vs, struct plan *out)
{
        struct action *a;
        for (unsigned k = 0; k < 16; k++) {
                int r = plan_add(out, ACTION_MIGRATE, s->vms[vi].id, vi, 0, &a);
                if (r < 0)
                        return r;
                a->from_node = 0;
                a->node = 1;
                a->offset = k * 64 * TB_MIB;
                a->bytes = 64 * TB_MIB;
        }
        return 0;
}

static const struct policy_ops greedy_ops = {.name = "greedy", .plan_vm = greedy_plan_vm};

START_TEST(test_dry_run)
{
        struct fake_world w = {.fail_type = -1};
        struct engine_config cfg;
        struct engine *e;
        struct engine_step_result res;
        uint64_t period = 0;

        engine_config_init(&cfg);
        cfg.dry_run = true;
        ck_assert_int_eq(engine_new(&cfg, &sampler, &actuator, &clock_ops, &w, &e), 0);
        ck_assert_int_eq(engine_step(e, period++, &res), 0);
        ck_assert_uint_gt(res.n_planned, 0);
        ck_assert_uint_eq(res.n_applied, 0);
        ck_assert_uint_eq(w.n_applied, 0);
        ck_assert_uint_eq(res.plan_ns, 1000);
        ck_assert_uint_eq(engine_history(e, 100, (struct history_entry[4]){}, 4), 0);
        /* The plan is still there to print. */
        ck_assert_uint_eq(engine_last_plan(e)->n_actions, res.n_planned);
        engine_free(e);
}
END_TEST

START_TEST(test_history_and_failures)
{
        struct fake_world w = {.fail_type = ACTION_PIN_EMULATOR};
        struct engine_config cfg;
        struct engine *e;
        struct engine_step_result res;
        uint64_t period = 0;
        struct history_entry h[8];
        size_t n;
        engine_config_init(&cfg);
        cfg.history_len = 4;
        ck_assert_int_eq(engine_new(&cfg, &sampler, &actuator, &clock_ops, &w, &e), 0);
        ck_assert_int_eq(engine_step(e, period++, &res), 0);
        /* The emulator pin failed, was counted, and did not stop the rest. */
        ck_assert_uint_eq(res.n_failed, 1);
        ck_assert_uint_eq(res.n_applied, res.n_planned - 1);
        n = engine_history(e, 100, h, 8);
        ck_assert_uint_eq(n, MIN(res.n_planned, (size_t)4));
        for (unsigned t = 1; t < 5; t++)
                ck_assert_int_eq(engine_step(e, period++, &res), 0);
        n = engine_history(e, 100, h, 8);
        ck_assert_uint_eq(n, 4); /* the ring keeps the last 4 */
        for (size_t i = 1; i < n; i++)
                ck_assert_uint_ge(h[i].period, h[i - 1].period);
        ck_assert_uint_eq(h[n - 1].period, 4);
        ck_assert_uint_gt(w.n_migrations, 0);
        /* The VM in off mode never appears. */
        ck_assert_uint_eq(engine_history(e, 101, h, 8), 0);
        engine_free(e);
}
END_TEST

/* A pin the actuator failed (libvirtd away) is planned again; one that was applied is not. */
START_TEST(test_failed_pins_are_retried)
{
        struct fake_world w = {.fail_type = ACTION_PIN_EMULATOR};
        struct engine_config cfg;
        struct engine *e;
        struct engine_step_result res;
        uint64_t period = 0;
        unsigned pins_after_first;

        engine_config_init(&cfg);
        ck_assert_int_eq(engine_new(&cfg, &sampler, &actuator, &clock_ops, &w, &e), 0);
        ck_assert_int_eq(engine_step(e, period++, &res), 0);
        ck_assert_uint_eq(res.n_failed, 1);
        pins_after_first = w.n_pins;
        w.fail_type = -1;
        ck_assert_int_eq(engine_step(e, period++, &res), 0);
        ck_assert_uint_eq(res.n_failed, 0);
        ck_assert_uint_eq(w.n_pins, pins_after_first + 1); /* the emulator pin, again */
        ck_assert_int_eq(engine_step(e, period++, &res), 0);
        ck_assert_uint_eq(w.n_pins, pins_after_first + 1); /* and then not any more */
        engine_free(e);
}
END_TEST

/* The fake sampler reports the same chunks misplaced whatever is moved, as when the kernel's
 * NUMA balancing takes pages back or migration cannot take them: each chunk is planned a few
 * times with growing pauses, not every period. */
START_TEST(test_futile_moves_back_off)
{
        struct fake_world w = {.fail_type = -1};
        struct engine_config cfg;
        struct engine *e;
        struct engine_step_result res;
        uint64_t period = 0;
        unsigned total = 0;

        engine_config_init(&cfg);
        ck_assert_int_eq(engine_new(&cfg, &sampler, &actuator, &clock_ops, &w, &e), 0);
        for (unsigned t = 0; t < 40; t++)
                ck_assert_int_eq(engine_step(e, period++, &res), 0);
        for (unsigned k = 0; k < 8; k++) {
                ck_assert_msg(w.moves_of[k] <= 6, "chunk %u moved %u times in 40 periods", k, w.moves_of[k]);
                total += w.moves_of[k];
        }
        ck_assert_uint_ge(total, 8); /* every chunk was tried */
        engine_free(e);
}
END_TEST

START_TEST(test_engine_budget_guard)
{
        struct fake_world w = {.fail_type = -1};
        struct engine_config cfg;
        struct engine *e;
        struct engine_step_result res;
        uint64_t period = 0;

        engine_config_init(&cfg);
        cfg.override = &greedy_ops;
        cfg.params.vm_migrate_rate = 256 * TB_MIB;
        ck_assert_int_eq(engine_new(&cfg, &sampler, &actuator, &clock_ops, &w, &e), 0);
        ck_assert_int_eq(engine_step(e, period++, &res), 0);
        /* 16 x 64 MiB asked for VM 100, 4 fit in 256 MiB; VM 101 is off and never reaches it. */
        ck_assert_uint_eq(res.n_planned, 16);
        ck_assert_uint_eq(res.n_dropped_budget, 12);
        ck_assert_uint_eq(res.bytes_migrated, 256 * TB_MIB);
        ck_assert_uint_eq(w.n_migrations, 4);
        engine_free(e);
}
END_TEST

START_TEST(test_action_format)
{
        struct plan p;
        struct action *a;
        char buf[256];

        plan_init(&p);
        ck_assert_int_eq(plan_add(&p, ACTION_MIGRATE, 9, 0, 1, &a), 0);
        a->bytes = 4096;
        a->from_node = 0;
        a->node = 1;
        action_set_reason(a, "because %d", 42);
        ck_assert_int_eq(action_format(a, buf, sizeof(buf)), 0);
        ck_assert_ptr_nonnull(strstr(buf, "migrate 4096 bytes"));
        ck_assert_ptr_nonnull(strstr(buf, "because 42"));
        ck_assert_int_eq(action_format(a, buf, 8), -ENOBUFS);
        ck_assert_int_eq(plan_add(&p, _ACTION_TYPE_MAX, 9, 0, 1, &a), -EINVAL);
        plan_done(&p);
}
END_TEST

static Suite *engine_suite(void)
{
        Suite *s = suite_create("engine");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_dry_run);
        tcase_add_test(tc, test_history_and_failures);
        tcase_add_test(tc, test_failed_pins_are_retried);
        tcase_add_test(tc, test_futile_moves_back_off);
        tcase_add_test(tc, test_engine_budget_guard);
        tcase_add_test(tc, test_action_format);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(engine_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
