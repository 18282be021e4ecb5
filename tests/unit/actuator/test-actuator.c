/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The actuator's frame: kinds, config, the record ring, set-home, model checks, and a region
 * policy worked out up to its cgroup (positions -> kernel ids, the VM's cgroup name), none of which
 * does I/O. */
#include <check.h>
#include <string.h>

#include "../test-util.h"
#include "actuator-internal.h"
#include "vnuma/model/snapshot.h"

static struct actuator *new_actuator(unsigned keep)
{
        struct actuator_config cfg;
        struct actuator *a = NULL;

        actuator_config_init(&cfg);
        cfg.record_keep = keep;
        ck_assert_int_eq(actuator_new(&cfg, &a), 0);
        return a;
}

START_TEST(test_kind_strings_and_config)
{
        struct actuator_config cfg;
        struct actuator *a = (struct actuator *)0x1;

        ck_assert_str_eq(actuator_kind_to_string(ACTUATOR_DIRECT), "direct");
        ck_assert_ptr_null(actuator_kind_to_string(_ACTUATOR_KIND_MAX));
        ck_assert_int_eq(actuator_kind_from_string("dry-run"), -EINVAL); /* the engine's switch */
        ck_assert_int_eq(actuator_kind_from_string("direct"), ACTUATOR_DIRECT);
        ck_assert_int_eq(actuator_kind_from_string("libvirt"), -EINVAL);
        ck_assert_int_eq(actuator_kind_from_string(NULL), -EINVAL);

        actuator_config_init(&cfg);
        ck_assert_int_eq(cfg.kind, ACTUATOR_DIRECT);
        ck_assert_uint_eq(cfg.retries, ACTUATOR_RETRIES_DEFAULT);
        cfg.kind = (enum actuator_kind)7;
        ck_assert_int_eq(actuator_new(&cfg, &a), -EINVAL);
        actuator_config_init(&cfg);
        cfg.state_dir = "relative/dir";
        ck_assert_int_eq(actuator_new(&cfg, &a), -EINVAL);
        ck_assert_ptr_eq(a, (struct actuator *)0x1); /* untouched on failure */
        ck_assert_ptr_null(actuator_free(NULL));
}
END_TEST

static struct guest_model one_cell_model(struct guest_cell *cell)
{
        *cell = (struct guest_cell){.id = 0};
        return (struct guest_model){.name = (char *)"m", .pid = getpid(), .n_cells = 1, .cells = cell};
}

START_TEST(test_set_home_is_bookkeeping_and_ring_keeps_newest)
{
        _cleanup_(actuator_freep) struct actuator *a = new_actuator(3);
        struct guest_cell cell;
        struct guest_model m = one_cell_model(&cell);
        struct actuator_vm vm = {.id = 5, .model = &m};
        struct actuator_result res;
        const char *lines[8];

        for (int i = 0; i < 5; i++) {
                struct action act = {
                        .type = ACTION_SET_HOME, .vm_id = 5, .cell = 0, .node = i, .node_id = 10 + i};

                ck_assert_int_eq(actuator_apply(a, NULL, &act, &vm, &res), 0);
                ck_assert_uint_eq(res.threads_pinned + res.pages_moved, 0);
        }
        ck_assert_uint_eq(actuator_recorded_total(a), 5);
        ck_assert_uint_eq(actuator_recorded(a, lines, 8), 3);
        ck_assert_str_eq(lines[0], "set-home vm 5 cell 0: home node 12 (bookkeeping only): ok");
        ck_assert_str_eq(lines[2], "set-home vm 5 cell 0: home node 14 (bookkeeping only): ok");
        /* Asking for fewer gives the newest ones, still oldest first. */
        ck_assert_uint_eq(actuator_recorded(a, lines, 2), 2);
        ck_assert_ptr_nonnull(strstr(lines[0], "node 13"));
        ck_assert_ptr_nonnull(strstr(lines[1], "node 14"));
}
END_TEST

START_TEST(test_model_mismatch_is_einval)
{
        _cleanup_(actuator_freep) struct actuator *a = new_actuator(0);
        struct guest_cell cell;
        struct guest_model m = one_cell_model(&cell);
        struct actuator_vm vm = {.id = 5, .model = &m};
        struct action act = {.type = ACTION_SET_HOME, .vm_id = 6, .cell = 0};
        struct actuator_result res = {.pages_moved = 99};
        const char *line;

        ck_assert_int_eq(actuator_apply(a, NULL, &act, &vm, &res), -EINVAL); /* vm 6 vs model of 5 */
        ck_assert_uint_eq(res.pages_moved, 0);                               /* result reset */
        ck_assert_int_eq(actuator_apply(a, NULL, &act, NULL, &res), -EINVAL);
        act.vm_id = 5;
        act.type = (enum action_type)42;
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &vm, &res), -EINVAL);
        ck_assert_uint_eq(actuator_recorded(a, &line, 1), 1);
        ck_assert_ptr_nonnull(strstr(line, "unknown action type 42: error: Invalid argument"));
        m.pid = 0;
        act.type = ACTION_SET_HOME;
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &vm, &res), -EINVAL);
}
END_TEST

/* Node positions map to kernel ids through the snapshot (sparse ids here), their CPUs make
 * AllowedCPUs=, and an unrestricted cell keeps the unit unrestricted. No I/O: test-cgroup-unit
 * applies plans. */
START_TEST(test_region_policy_plan)
{
        _cleanup_(actuator_freep) struct actuator *a = new_actuator(0);
        _cleanup_(snapshot_freep) struct snapshot *s = NULL;
        struct region_plan p = {};
        struct guest_cell cells[2] = {{.id = 0}, {.id = 1}};
        struct guest_model m = {.name = (char *)"vm", .pid = getpid(), .n_cells = 2, .cells = cells};
        struct actuator_vm vm = {.id = 9, .model = &m};
        struct action act = {
                .type = ACTION_SET_REGION_POLICY, .vm_id = 9, .region_policy = REGION_POLICY_BIND};
        struct actuator_result res;
        struct idset want = IDSET_EMPTY;
        char what[ACTUATOR_LINE_MAX];

        ck_assert_int_eq(snapshot_new(1, &s), 0);
        s->host.n_nodes = 3;
        s->host.node[0].id = 0;
        s->host.node[1].id = 2;
        s->host.node[2].id = 5;
        idset_parse("0-1", &s->host.node[0].cpus);
        idset_parse("2-3", &s->host.node[1].cpus);
        idset_parse("8", &s->host.node[2].cpus);

        /* Cell 1 is still unrestricted: so is the unit. */
        act.cell = 0;
        act.node_mask = 0x2; /* position 1 = node 2 */
        ck_assert_int_eq(actuator_region_plan(a, s, &act, &vm, &p, what, sizeof(what)), 0);
        ck_assert(p.open);
        ck_assert(idset_is_empty(&p.mems) && idset_is_empty(&p.cpus));
        ck_assert_str_eq(what, "bind: cell 0: some cell unrestricted, the VM's unit needs no restriction");
        actuator_region_remember(&p);

        act.cell = 1;
        act.node_mask = 0x4; /* position 2 = node 5 */
        ck_assert_int_eq(actuator_region_plan(a, s, &act, &vm, &p, what, sizeof(what)), 0);
        ck_assert_str_eq(what, "bind: AllowedMemoryNodes=2,5 AllowedCPUs=2-3,8");
        idset_add(&want, 5);
        ck_assert(idset_equal(&p.nodes, &want));
        actuator_region_remember(&p);

        /* Interleave over positions 0-1 is nodes 0 and 2; with cell 1's 5 that is 0,2,5. */
        act.cell = 0;
        act.region_policy = REGION_POLICY_INTERLEAVE;
        act.node_mask = 0x3;
        ck_assert_int_eq(actuator_region_plan(a, s, &act, &vm, &p, what, sizeof(what)), 0);
        ck_assert_str_eq(what, "interleave: AllowedMemoryNodes=0,2,5 AllowedCPUs=0-3,8");

        act.node_mask = 0x8; /* position 3 is not a node of this host */
        ck_assert_int_eq(actuator_apply(a, s, &act, &vm, &res), -EINVAL);
        ck_assert_int_eq(actuator_forget_vm(a, 9), 0);
        ck_assert_int_eq(actuator_forget_vm(a, 9), 0);
}
END_TEST

TEST_MAIN("actuator", test_kind_strings_and_config, test_set_home_is_bookkeeping_and_ring_keeps_newest,
          test_model_mismatch_is_einval, test_region_policy_plan)
