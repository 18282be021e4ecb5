/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The simulator measures what the daemon measures (issue #12): a packed node reports run time capped by
 * contention and the rest as wait; --cpu-load really sets the vCPU demand over the host's CPUs; the
 * work rate is the performance model's; the model's reference placement is worth at least what any
 * policy reaches. */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "vnuma/sim/sim.h"

#define NS 1e9

static struct sim_world *world(unsigned nodes, unsigned vms, double cpu_load, uint64_t seed)
{
        struct sim_config cfg;
        struct sim_world *w = NULL;

        sim_config_init(&cfg);
        cfg.n_nodes = nodes;
        cfg.n_vms = vms;
        cfg.cpu_load = cpu_load;
        cfg.seed = seed;
        ck_assert_int_eq(sim_world_new(&cfg, &w), 0);
        return w;
}

static double world_demand(const struct sim_world *w)
{
        double d = 0;
        for (unsigned i = 0; i < w->n_vms; i++)
                for (unsigned v = 0; v < w->vms[i].n_vcpus && w->vms[i].active; v++)
                        d += w->vms[i].vcpus[v].busy;
        return d;
}

static double world_cpus(const struct sim_world *w)
{
        double c = 0;
        for (unsigned h = 0; h < w->host.n_nodes; h++)
                c += w->host.node[h].n_cpus;
        return c;
}

static void pack_on(struct sim_world *w, int node, bool memory_too)
{
        for (unsigned i = 0; i < w->n_vms; i++) {
                struct sim_vm *vm = &w->vms[i];
                for (unsigned v = 0; v < vm->n_vcpus; v++)
                        vm->vcpus[v].node = node;
                for (unsigned c = 0; c < vm->n_cells && memory_too; c++)
                        for (unsigned q = 0; q < vm->cells[c].n_chunks; q++)
                                vm->cells[c].chunks[q].node = (int8_t)node;
        }
}

START_TEST(test_spread_world_does_not_wait)
{
        struct sim_world *w = world(2, 10, 0.6, 1);
        struct snapshot *s = NULL;

        ck_assert_int_eq(sim_sense(w, 0, &s), 0);
        for (unsigned i = 0; i < s->n_vms; i++)
                for (unsigned v = 0; v < s->vms[i].n_vcpus; v++)
                        ck_assert_uint_eq(s->vms[i].vcpus[v].wait_ns, 0);
        snapshot_free(s);
        sim_world_free(w);
}
END_TEST

START_TEST(test_packed_node_reports_wait)
{
        struct sim_world *w = world(2, 10, 0.6, 1);
        struct snapshot *s = NULL;
        double cpus0, demand = 0, run = 0, total = world_demand(w);

        pack_on(w, 0, false);
        cpus0 = w->host.node[0].n_cpus;
        ck_assert(total > cpus0);
        ck_assert_int_eq(sim_sense(w, 0, &s), 0);
        /* /proc/stat: node 0's CPUs are all busy, node 1 idle. */
        ck_assert(fabs(s->host.node[0].cpu_load - cpus0) < 1e-9);
        ck_assert(s->host.node[1].cpu_load < 1e-9);
        for (unsigned i = 0; i < s->n_vms; i++) {
                const struct snap_vm *vm = &s->vms[i];
                for (unsigned v = 0; v < vm->n_vcpus; v++) {
                        const struct snap_vcpu *vc = &vm->vcpus[v];
                        double busy = w->vms[w->active_map[i]].vcpus[v].busy;

                        /* Each runs its share (CPUs over demand) and waits for the rest. */
                        ck_assert_uint_gt(vc->wait_ns, 0);
                        ck_assert(fabs((double)vc->runtime_ns - busy * cpus0 / total * NS) < 2);
                        ck_assert(fabs((double)(vc->runtime_ns + vc->wait_ns) - busy * NS) < 2);
                        run += (double)vc->runtime_ns / NS;
                }
                for (unsigned c = 0; c < vm->n_cells; c++)
                        demand += snap_cell_cpu_demand(s, vm, c);
        }
        /* Run time alone says "fits"; run + wait is the true demand. */
        ck_assert(fabs(run - cpus0) < 1e-6 * total);
        ck_assert(fabs(demand - total) < 1e-6 * total);
        snapshot_free(s);
        sim_world_free(w);
}
END_TEST

START_TEST(test_other_load_takes_its_share)
{
        struct sim_world *w = world(2, 10, 0.6, 2);
        struct snapshot *s = NULL;
        double cpus1 = w->host.node[1].n_cpus;
        unsigned waiting = 0, on1 = 0;

        w->other_load[1] = 2 * cpus1;
        ck_assert_int_eq(sim_sense(w, 0, &s), 0);
        ck_assert(fabs(s->host.node[1].cpu_load - cpus1) < 1e-9);
        for (unsigned i = 0; i < s->n_vms; i++)
                for (unsigned v = 0; v < s->vms[i].n_vcpus; v++) {
                        const struct snap_vcpu *vc = &s->vms[i].vcpus[v];
                        on1 += vc->node == 1;
                        waiting += vc->node == 1 && vc->wait_ns > 0;
                        if (vc->node == 0)
                                ck_assert_uint_eq(vc->wait_ns, 0);
                }
        ck_assert_uint_gt(on1, 0);
        ck_assert_uint_eq(waiting, on1);
        snapshot_free(s);
        sim_world_free(w);
}
END_TEST

START_TEST(test_cpu_load_sets_demand)
{
        static const double loads[] = {0.5, 1.0, 1.5};

        for (unsigned l = 0; l < 3; l++)
                for (uint64_t seed = 1; seed <= 3; seed++) {
                        struct sim_world *w = world(4, 50, loads[l], seed);
                        double ratio = world_demand(w) / world_cpus(w);

                        ck_assert_msg(fabs(ratio - loads[l]) < 0.05 * loads[l], "load %.2f seed %llu: %.3f",
                                      loads[l], (unsigned long long)seed, ratio);
                        sim_world_free(w);
                }
}
END_TEST

START_TEST(test_overcommitted_run_reports_demand_above_cpus)
{
        struct sim_world *w = world(4, 50, 1.5, 1);
        struct snapshot *s = NULL;
        double demand = 0, run = 0, load = 0;

        for (unsigned t = 0; t < 5; t++)
                sim_world_advance(w);
        ck_assert_int_eq(sim_sense(w, 0, &s), 0);
        for (unsigned i = 0; i < s->n_vms; i++) {
                for (unsigned c = 0; c < s->vms[i].n_cells; c++)
                        demand += snap_cell_cpu_demand(s, &s->vms[i], c);
                for (unsigned v = 0; v < s->vms[i].n_vcpus; v++)
                        run += (double)s->vms[i].vcpus[v].runtime_ns / NS;
        }
        for (unsigned h = 0; h < s->host.n_nodes; h++)
                load += s->host.node[h].cpu_load;
        ck_assert(demand > 1.4 * world_cpus(w));
        ck_assert(run <= world_cpus(w) + 1e-6);
        ck_assert(load <= world_cpus(w) + 1e-6);
        snapshot_free(s);
        sim_world_free(w);
}
END_TEST

START_TEST(test_throughput_is_the_model)
{
        struct sim_world *w = world(2, 10, 0.6, 3);
        double cpus0 = w->host.node[0].n_cpus, total = world_demand(w);

        /* Everything on node 0, memory too: all local, the node does its CPUs' worth. */
        pack_on(w, 0, true);
        ck_assert(total > cpus0);
        ck_assert(fabs(sim_world_throughput(w) - cpus0) < 1e-6 * cpus0);
        /* With other work as large as the vCPUs' demand, half of it is theirs. */
        w->other_load[0] = total;
        ck_assert(fabs(sim_world_throughput(w) - cpus0 / 2) < 1e-6 * cpus0);
        sim_world_free(w);
}
END_TEST

START_TEST(test_optimal_bounds_every_policy)
{
        static const char *const policies[] = {"auto", "none", "numad", "autonuma", "optimal"};
        static const double loads[] = {0.5, 1.0, 1.5};
        static const unsigned sizes[][2] = {{2, 10}, {4, 20}};

        for (unsigned z = 0; z < 2; z++)
                for (unsigned l = 0; l < 3; l++)
                        for (uint64_t seed = 1; seed <= 2; seed++) {
                                double opt = NAN;
                                for (unsigned p = 0; p < 5; p++) {
                                        struct sim_config cfg;
                                        struct sim_result r;

                                        sim_config_init(&cfg);
                                        cfg.n_nodes = sizes[z][0];
                                        cfg.n_vms = sizes[z][1];
                                        cfg.cpu_load = loads[l];
                                        cfg.seed = seed;
                                        cfg.periods = 40;
                                        ck_assert_int_eq(sim_run(&cfg, policies[p], &r), 0);
                                        ck_assert(r.throughput > 0);
                                        ck_assert_msg(r.optimal_throughput >= r.throughput - 1e-9,
                                                      "%u nodes, load %.1f, seed %llu: %s %.4f > optimal "
                                                      "%.4f",
                                                      cfg.n_nodes, cfg.cpu_load, (unsigned long long)seed,
                                                      policies[p], r.throughput, r.optimal_throughput);
                                        /* One static world per seed: the same reference for all. */
                                        if (p > 0)
                                                ck_assert(fabs(r.optimal_throughput - opt) < 1e-9);
                                        opt = r.optimal_throughput;
                                        sim_result_done(&r);
                                }
                        }
}
END_TEST

int main(void)
{
        Suite *s = suite_create("sim");
        TCase *tc = tcase_create("measures");
        SRunner *sr;
        int failed;

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_spread_world_does_not_wait);
        tcase_add_test(tc, test_packed_node_reports_wait);
        tcase_add_test(tc, test_other_load_takes_its_share);
        tcase_add_test(tc, test_cpu_load_sets_demand);
        tcase_add_test(tc, test_overcommitted_run_reports_demand_above_cpus);
        tcase_add_test(tc, test_throughput_is_the_model);
        tcase_add_test(tc, test_optimal_bounds_every_policy);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
