/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placement advice (vnumactl advise, numad's -w) and the starting home it seeds, with numbers. */
#include <check.h>
#include <stdlib.h>

#include "vnuma/policies/policy-advise.h"

#include "snap-builder.h"

static struct policy_params params(void)
{
        struct policy_params p;

        policy_params_init(&p); /* imbalance 100 %, 256 MiB reserve */
        return p;
}

static int advise(const struct snapshot *s, unsigned vcpus, uint64_t mib, nodemask_t *ret)
{
        struct policy_params p = params();
        struct advise_request req = {.vcpus = vcpus, .mem_bytes = mib * TB_MIB};

        return policy_advise_snapshot(s, &p, &req, ret);
}

/* Two nodes of 4 CPUs and 8 GiB; a guest of 3 busy vCPUs and 2 GiB on node `busy`. */
static struct snapshot *one_node_loaded(int busy)
{
        struct snapshot *s = tb_snapshot(2, 4, 8 * TB_GIB, 1, 0, false);

        tb_vm(s, 0, 1, 1, 3, 2 * TB_GIB, 256 * TB_MIB);
        tb_cell_on(s, 0, 0, busy);
        tb_vcpus_on(s, 0, 0, busy, 1.0);
        tb_finish(s);
        return s;
}

START_TEST(test_loaded_node_avoided)
{
        nodemask_t m = 0;

        for (int busy = 0; busy < 2; busy++) {
                struct snapshot *s = one_node_loaded(busy);

                ck_assert_int_eq(advise(s, 2, 1024, &m), 0);
                ck_assert_uint_eq(m, NODEMASK_BIT(1 - busy));
                snapshot_free(s);
        }
}
END_TEST

START_TEST(test_contention_counts)
{
        /* Node 0's 3 vCPUs ran 0.5 and waited 0.5 of the period each: by run time it is the idler
         * node (1.5 busy CPUs against node 1's 2 of other work), by demand (3 CPUs) it is the
         * fuller one, with no room for 2 more vCPUs. */
        struct snapshot *s = tb_snapshot(2, 4, 8 * TB_GIB, 1, 0, false);
        nodemask_t m = 0;

        tb_vm(s, 0, 1, 1, 3, 2 * TB_GIB, 256 * TB_MIB);
        tb_cell_on(s, 0, 0, 0);
        tb_vcpus_on(s, 0, 0, 0, 0.5);
        tb_vcpus_wait(s, 0, 0.5);
        tb_finish(s);
        s->host.node[1].cpu_load = 2.0;
        ck_assert_int_eq(advise(s, 2, 1024, &m), 0);
        ck_assert_uint_eq(m, NODEMASK_BIT(1));
        snapshot_free(s);
}
END_TEST

START_TEST(test_memory_fits_nowhere)
{
        struct snapshot *s = tb_snapshot(2, 4, 8 * TB_GIB, 0, 0, false);
        nodemask_t m = 0xdead;

        /* 16 GiB free in all, minus a 256 MiB reserve per node. */
        ck_assert_int_eq(advise(s, 1, 16 * 1024, &m), -ENOSPC);
        ck_assert_uint_eq(m, 0xdead); /* untouched on failure */
        /* 12 GiB holds on the two nodes together only. */
        ck_assert_int_eq(advise(s, 1, 12 * 1024, &m), 0);
        ck_assert_uint_eq(m, 0x3);
        ck_assert_int_eq(advise(s, 0, 1, &m), -EINVAL);
        snapshot_free(s);
}
END_TEST

START_TEST(test_vcpus_exceed_one_node)
{
        /* Four nodes of 2 CPUs, node 0 busy with 2 vCPUs; distances 10 local, 20 + 5|i-j|. Three
         * vCPUs fit no single node; {0,1} is as close as {1,2} but node 0's load leaves it 1 CPU
         * short. */
        struct snapshot *s = tb_snapshot(4, 2, 8 * TB_GIB, 1, 0, false);
        nodemask_t m = 0;

        tb_vm(s, 0, 1, 1, 2, 1 * TB_GIB, 256 * TB_MIB);
        tb_cell_on(s, 0, 0, 0);
        tb_vcpus_on(s, 0, 0, 0, 1.0);
        tb_finish(s);
        ck_assert_int_eq(advise(s, 3, 512, &m), 0);
        ck_assert_uint_eq(m, 0x6);
        snapshot_free(s);

        /* Two idle nodes of 2 CPUs: 3 vCPUs take both. */
        s = tb_snapshot(2, 2, 8 * TB_GIB, 0, 0, false);
        ck_assert_int_eq(advise(s, 3, 512, &m), 0);
        ck_assert_uint_eq(m, 0x3);
        snapshot_free(s);
}
END_TEST

START_TEST(test_overcommitted_cpus_still_answer)
{
        /* One node of 2 CPUs, both busy: like numad, the guest still gets the node that holds its
         * memory (KVM hosts overcommit CPUs); refusing would stop the start. */
        struct snapshot *s = tb_snapshot(1, 2, 8 * TB_GIB, 1, 0, false);
        nodemask_t m = 0;

        tb_vm(s, 0, 1, 1, 2, 1 * TB_GIB, 256 * TB_MIB);
        tb_cell_on(s, 0, 0, 0);
        tb_vcpus_on(s, 0, 0, 0, 1.0);
        tb_finish(s);
        ck_assert_int_eq(advise(s, 2, 512, &m), 0);
        ck_assert_uint_eq(m, 0x1);
        snapshot_free(s);
}
END_TEST

START_TEST(test_commitments_count)
{
        /* Guest B's 3 GiB and 2 busy vCPUs sit on node 1, but its home is node 0 (it was started
         * there; vnumad is moving it). The snapshot says node 0 has 8 GiB free and idle CPUs; the
         * ledger says node 0 has 5 GiB and 2 CPUs promised, node 1 gets them back. A 4-vCPU, 6 GiB
         * guest goes to node 1. */
        struct snapshot *s = tb_snapshot(2, 4, 8 * TB_GIB, 1, 0, false);
        struct policy_params p = params();
        struct advise_request req = {.vcpus = 3, .mem_bytes = 6 * TB_GIB};
        _cleanup_(policy_state_freep) struct policy_state *st = NULL;
        nodemask_t m = 0;

        tb_vm(s, 0, 7, 1, 2, 3 * TB_GIB, 256 * TB_MIB);
        tb_cell_on(s, 0, 0, 1);
        tb_vcpus_on(s, 0, 0, 1, 1.0);
        tb_finish(s);

        /* Without the commitment (no home yet): node 0, the emptier by the snapshot. */
        ck_assert_int_eq(policy_advise_snapshot(s, &p, &req, &m), 0);
        ck_assert_uint_eq(m, 0x1);
        idset_add(&s->vms[0].policy.start_nodes, 0);

        ck_assert_int_eq(policy_state_new(&p, &st), 0);
        ck_assert_int_eq(policy_state_sync(st, s), 0);
        ck_assert_uint_eq(st->vms[0].cells[0].home_mem, 0x1); /* seeded */
        policy_state_begin_period(st, s);
        ck_assert_int_eq(policy_advise(&s->host, &st->ledger, &p, &req, &m), 0);
        ck_assert_uint_eq(m, 0x2);
        snapshot_free(s);
}
END_TEST

START_TEST(test_seed_home)
{
        struct snapshot *s = tb_snapshot(3, 2, 8 * TB_GIB, 1, 0x4 /* node 2 has no CPUs */, false);
        struct policy_params p = params();
        _cleanup_(policy_state_freep) struct policy_state *st = NULL;
        struct vm_state *vs;

        tb_vm(s, 0, 9, 2, 1, TB_GIB, 256 * TB_MIB);
        tb_finish(s);
        ck_assert_int_eq(policy_state_new(&p, &st), 0);

        /* No start nodes: no home. */
        ck_assert_int_eq(policy_state_sync(st, s), 0);
        ck_assert_uint_eq(st->vms[0].cells[0].home_mem, 0);
        ck_assert_int_eq(st->vms[0].group_home, -1);

        /* One node: the whole VM's home, not provisional. */
        vs = &st->vms[0];
        idset_add(&s->vms[0].policy.start_nodes, 1);
        policy_seed_home(&s->host, &s->vms[0], vs);
        ck_assert_int_eq(vs->group_home, 1);
        for (unsigned c = 0; c < 2; c++) {
                ck_assert_uint_eq(vs->cells[c].home_mem, 0x2);
                ck_assert_uint_eq(vs->cells[c].home_cpu, 0x2);
                ck_assert(!vs->cells[c].provisional);
        }

        /* Two nodes, two cells: one each; the CPU-less node's vCPUs go to its nearest CPU node. */
        ck_assert_int_eq(policy_state_sync(st, &(struct snapshot){.host = s->host}), 0); /* drop it */
        ck_assert_uint_eq(st->n_vms, 0);
        s->vms[0].policy.start_nodes = IDSET_EMPTY;
        idset_add(&s->vms[0].policy.start_nodes, 0);
        idset_add(&s->vms[0].policy.start_nodes, 2);
        ck_assert_int_eq(policy_state_sync(st, s), 0);
        vs = &st->vms[0];
        ck_assert(vs->split);
        ck_assert_uint_eq(vs->cells[0].home_mem, 0x1);
        ck_assert_uint_eq(vs->cells[1].home_mem, 0x4);
        ck_assert_uint_eq(vs->cells[1].home_cpu, 0x2); /* distance 25 to node 1, 30 to node 0 */

        /* Not auto (the operator's metadata says otherwise), or a node this host lacks: nothing. */
        ck_assert_int_eq(policy_state_sync(st, &(struct snapshot){.host = s->host}), 0);
        s->vms[0].policy.mode = VM_POLICY_STRICT;
        ck_assert_int_eq(policy_state_sync(st, s), 0);
        ck_assert_uint_eq(st->vms[0].cells[0].home_mem, 0);
        ck_assert_int_eq(policy_state_sync(st, &(struct snapshot){.host = s->host}), 0);
        s->vms[0].policy.mode = VM_POLICY_AUTO;
        idset_add(&s->vms[0].policy.start_nodes, 7);
        ck_assert_int_eq(policy_state_sync(st, s), 0);
        ck_assert_uint_eq(st->vms[0].cells[0].home_mem, 0);
        snapshot_free(s);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("advise");
        TCase *tc = tcase_create("advise");

        tcase_add_test(tc, test_loaded_node_avoided);
        tcase_add_test(tc, test_contention_counts);
        tcase_add_test(tc, test_memory_fits_nowhere);
        tcase_add_test(tc, test_vcpus_exceed_one_node);
        tcase_add_test(tc, test_overcommitted_cpus_still_answer);
        tcase_add_test(tc, test_commitments_count);
        tcase_add_test(tc, test_seed_home);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
