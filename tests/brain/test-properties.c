/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Properties over 1000 seeded simulated scenarios: every plan the product policies make stays within
 * capacities and budgets and never touches a VM in observe or off mode; after convergence a strict VM
 * has no memory outside its nodes. */
#include <check.h>
#include <stdlib.h>

#include "vnuma/policies/policy-rules.h"
#include "vnuma/sim/sim.h"

#define SCENARIOS 1000
#define PERIODS   30

struct checker {
        struct sim_world *w;
        struct policy_params params;
        unsigned violations;
        const struct snapshot *checked; /* snapshot whose plan was already checked */
};

static void check_plan(struct checker *k, const struct snapshot *s, const struct plan *p)
{
        uint64_t host = 0, inflow[SNAP_NODES_MAX] = {0};
        double cpu_add[SNAP_NODES_MAX] = {0};

        for (size_t i = 0; i < p->n_actions; i++) {
                const struct action *a = &p->actions[i];
                const struct snap_vm *vm = &s->vms[a->vm_index];

                if (!vm_policy_mode_acts(vm->policy.mode))
                        k->violations++;
                if (a->type == ACTION_MIGRATE) {
                        host += a->bytes;
                        inflow[a->node] += a->bytes;
                }
                /* The CPU capacity rule is auto's: fixed modes follow the operator's nodes, and a
                 * spread (multi-node) pin leaves the split to the scheduler. */
                if (a->type == ACTION_PIN_VCPUS && vm->policy.mode == VM_POLICY_AUTO &&
                    __builtin_popcount(a->node_mask) == 1)
                        IDSET_FOREACH (v, &a->vcpus) {
                                const struct snap_vcpu *vc = &vm->vcpus[v];
                                if (vc->node >= 0 && !NODEMASK_TEST(a->node_mask, vc->node))
                                        cpu_add[a->node] += (double)vc->runtime_ns / (double)s->period_ns;
                        }
        }
        if (host > rule_budget_for_period(&k->params, k->params.host_migrate_rate, s->period_ns))
                k->violations++;
        for (unsigned v = 0; v < s->n_vms; v++) {
                uint64_t rate = s->vms[v].policy.migrate_rate ?: k->params.vm_migrate_rate;
                if (plan_migrate_bytes_vm(p, s->vms[v].id) >
                    rule_budget_for_period(&k->params, rate, s->period_ns))
                        k->violations++;
        }
        for (unsigned h = 0; h < s->host.n_nodes; h++) {
                if (inflow[h] > s->host.node[h].mem_free_bytes)
                        k->violations++;
                /* A node that receives vCPUs is not pushed past CPUs * imbalance by them. */
                if (cpu_add[h] > 0 &&
                    s->host.node[h].cpu_load + cpu_add[h] >
                            s->host.node[h].n_cpus * k->params.imbalance_pct / 100.0 + 1e-6)
                        k->violations++;
        }
}

static struct engine *cur_engine;

static int checked_apply(void *userdata, const struct snapshot *s, const struct action *a)
{
        struct checker *k = userdata;
        if (k->checked != s) {
                check_plan(k, s, engine_last_plan(cur_engine));
                k->checked = s;
        }
        return sim_apply(k->w, s, a);
}

static int checked_sense(void *userdata, uint64_t period, struct snapshot **ret)
{
        struct checker *k = userdata;
        return sim_sense(k->w, period, ret);
}

static uint64_t checked_now(void *userdata)
{
        return 0;
}

START_TEST(test_properties)
{
        static const struct engine_sampler_ops sampler = {.sense = checked_sense};
        static const struct engine_actuator_ops actuator = {.apply = checked_apply};
        static const struct engine_clock_ops clock_ops = {.now_ns = checked_now};
        unsigned total_violations = 0, strict_vms = 0, strict_outside = 0, acted = 0;

        for (unsigned seed = 1; seed <= SCENARIOS; seed++) {
                struct sim_config cfg;
                struct engine_config ecfg;
                struct checker k = {};
                struct engine *e;

                sim_config_init(&cfg);
                cfg.n_nodes = 2 + 2 * (seed % 2);
                cfg.n_vms = 3 + seed % 6;
                cfg.seed = seed;
                cfg.periods = PERIODS;
                cfg.dynamic = seed % 3 == 0;
                ck_assert_int_eq(sim_world_new(&cfg, &k.w), 0);
                /* A mix of modes; strict VMs are bound to the node with the most room. */
                for (unsigned i = 0; i < k.w->n_vms; i++) {
                        struct sim_vm *vm = &k.w->vms[i];
                        unsigned m = (seed + i) % 6;
                        vm->policy.mode = (enum vm_policy_mode)m;
                        vm->policy.migrate_rate = (seed % 4) ? 0 : UINT64_C(1) << 30;
                        if (m == VM_POLICY_STRICT || m == VM_POLICY_PREFERRED || m == VM_POLICY_INTERLEAVE)
                                idset_add(&vm->policy.nodes, k.w->host.node[i % cfg.n_nodes].id);
                        if (m == VM_POLICY_INTERLEAVE)
                                idset_add(&vm->policy.nodes, k.w->host.node[(i + 1) % cfg.n_nodes].id);
                }
                engine_config_init(&ecfg);
                k.params = ecfg.params;
                ck_assert_int_eq(engine_new(&ecfg, &sampler, &actuator, &clock_ops, &k, &e), 0);
                cur_engine = e;
                for (unsigned t = 0; t < PERIODS; t++) {
                        struct engine_step_result res;
                        ck_assert_int_eq(engine_step(e, t, &res), 0);
                        /* Policies keep their own budgets: the engine never had to drop anything. */
                        ck_assert_uint_eq(res.n_dropped_budget, 0);
                        acted += res.n_applied > 0;
                        sim_world_advance(k.w);
                }
                /* Observe/off VMs never moved: their vCPUs are unpinned and no chunk ever left. */
                for (unsigned i = 0; i < k.w->n_vms; i++) {
                        const struct sim_vm *vm = &k.w->vms[i];
                        if (vm_policy_mode_acts(vm->policy.mode))
                                continue;
                        for (unsigned v = 0; v < vm->n_vcpus; v++)
                                ck_assert_uint_eq(vm->vcpus[v].allowed, 0);
                        for (unsigned c = 0; c < vm->n_cells; c++)
                                for (unsigned q = 0; q < vm->cells[c].n_chunks; q++)
                                        ck_assert_int_eq(vm->cells[c].chunks[q].left_node, -1);
                }
                /* Strict after convergence: nothing outside the nodes, when the nodes had room. */
                for (unsigned i = 0; i < k.w->n_vms; i++) {
                        const struct sim_vm *vm = &k.w->vms[i];
                        uint64_t size = 0;
                        int node;
                        if (!vm->active || vm->policy.mode != VM_POLICY_STRICT)
                                continue;
                        node = idset_next(&vm->policy.nodes, 0);
                        for (unsigned h = 0; h < k.w->host.n_nodes; h++)
                                if (k.w->host.node[h].id == node)
                                        node = (int)h;
                        for (unsigned c = 0; c < vm->n_cells; c++)
                                size += vm->cells[c].size_bytes;
                        /* Converged: its memory fits the budget of the run, and whatever is still
                         * outside would fit on the node above the reserve (else strict cannot
                         * comply, and must not overfill the node). */
                        uint64_t outside = 0, room;
                        for (unsigned c = 0; c < vm->n_cells; c++)
                                outside += vm->cells[c].size_bytes - sim_vm_bytes_on(vm, c, node);
                        room = k.w->host.node[node].mem_total_bytes - k.w->mem_used[node];
                        if (size > (uint64_t)(PERIODS - vm->arrive - 5) * (256u << 20) ||
                            (outside > 0 && room < k.params.mem_reserve_bytes + outside))
                                continue;
                        strict_vms++;
                        strict_outside += outside > 0;
                }
                total_violations += k.violations;
                engine_free(e);
                sim_world_free(k.w);
        }
        ck_assert_uint_eq(total_violations, 0);
        ck_assert_uint_gt(strict_vms, 100);
        ck_assert_uint_eq(strict_outside, 0);
        ck_assert_uint_gt(acted, SCENARIOS);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("properties");
        TCase *tc = tcase_create("seeded");
        SRunner *sr;
        int failed;

        tcase_set_timeout(tc, 600);
        tcase_add_test(tc, test_properties);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
