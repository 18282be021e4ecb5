/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* explain's summary (src/daemon/daemon-explain.c): actions folded per cell, kind and nodes over
 * their periods, with kernel node ids (a sparse host: positions 0, 1 are nodes 0, 2). */
#include <json-c/json.h>
#include <string.h>

#include "daemon-explain.h"
#include "test-util.h"
#include "vnuma/basic/json-util.h"

static struct host_node sparse_nodes[2] = {{.id = 0}, {.id = 2}};
static const struct host_topology sparse = {.n_nodes = 2, .nodes = sparse_nodes};

static struct history_entry migrate(uint64_t period, int cell, int from_pos, int to_pos, uint64_t bytes,
                                    int result)
{
        struct history_entry h = {.period = period, .result = result};

        h.action.type = ACTION_MIGRATE;
        h.action.vm_id = 7;
        h.action.cell = cell;
        h.action.from_node = from_pos;
        h.action.node = to_pos;
        h.action.node_id = sparse_nodes[to_pos].id;
        h.action.bytes = bytes;
        snprintf(h.action.reason, sizeof(h.action.reason), "cell %d is hot on node %d", cell,
                 sparse_nodes[to_pos].id);
        return h;
}

static const char *text_of(struct json_object *list, size_t i)
{
        return json_string_or(json_object_array_get_idx(list, i), "text", "?");
}

START_TEST(test_migrations_fold_per_cell_and_period_range)
{
        struct history_entry h[128];
        size_t n = 0;
        struct json_object *list, *g;

        /* Cell 1: 48 chunks of 4 MiB from position 0 to 1 over periods 2-3, then 4 more in period
         * 7; cell 0: one chunk back, in period 3; one failed chunk of cell 1 in period 3. */
        for (int i = 0; i < 24; i++)
                h[n++] = migrate(2, 1, 0, 1, 4 << 20, 0);
        h[n++] = migrate(3, 0, 1, 0, 2 << 20, 0);
        h[n++] = migrate(3, 1, 0, 1, 4 << 20, -EBUSY);
        for (int i = 0; i < 24; i++)
                h[n++] = migrate(3, 1, 0, 1, 4 << 20, 0);
        list = daemon_explain_summary(h, n, &sparse);
        ck_assert_ptr_nonnull(list);
        ck_assert_uint_eq(json_object_array_length(list), 3);
        ck_assert_str_eq(text_of(list, 0),
                         "cell 1: 192.0 MiB from node 0 to node 2, 48 chunks, periods 2-3");
        ck_assert_str_eq(text_of(list, 1), "cell 0: 2.0 MiB from node 2 to node 0, 1 chunk, period 3");
        ck_assert_str_eq(
                text_of(list, 2),
                "cell 1: 4.0 MiB from node 0 to node 2, 1 chunk, period 3, FAILED: Device or resource busy");
        json_object_put(list);

        for (int i = 0; i < 4; i++)
                h[n++] = migrate(7, 1, 0, 1, 4 << 20, 0);
        list = daemon_explain_summary(h, n, &sparse);
        ck_assert_uint_eq(json_object_array_length(list), 3);
        ck_assert_str_eq(text_of(list, 0),
                         "cell 1: 208.0 MiB from node 0 to node 2, 52 chunks, periods 2-3,7");
        /* More than explain holds: only the first DAEMON_EXPLAIN_MAX are folded. */
        for (int i = 0; i < 20; i++)
                h[n++] = migrate(8, 1, 0, 1, 4 << 20, 0);
        json_object_put(list);
        list = daemon_explain_summary(h, n, &sparse);
        ck_assert_uint_eq(json_object_array_length(list), 3);
        ck_assert_uint_eq(json_uint64_or(json_object_array_get_idx(list, 0), "actions", 0),
                          DAEMON_EXPLAIN_MAX - 2);
        json_object_put(list);

        n = 50;
        list = daemon_explain_summary(h, n, &sparse);
        g = json_object_array_get_idx(list, 0);
        ck_assert_int_eq(json_int64_or(g, "from_node", -1), 0);
        ck_assert_int_eq(json_int64_or(g, "node", -1), 2);
        ck_assert_uint_eq(json_uint64_or(g, "bytes", 0), 192u << 20);
        ck_assert_uint_eq(json_uint64_or(g, "actions", 0), 48);
        ck_assert_uint_eq(json_uint64_or(g, "first_period", 0), 2);
        ck_assert_uint_eq(json_uint64_or(g, "last_period", 0), 3);
        ck_assert_str_eq(json_string_or(g, "periods", "?"), "2-3");
        ck_assert_str_eq(json_string_or(g, "reason", "?"), "cell 1 is hot on node 2");
        json_object_put(list);
}
END_TEST

START_TEST(test_pins_and_homes_use_kernel_ids)
{
        struct history_entry h[3] = {};
        struct json_object *list;

        h[0].period = 5;
        h[0].action = (struct action){
                .type = ACTION_SET_HOME, .cell = 0, .node = 1, .node_id = 2, .node_mask = 0x2};
        h[1].period = 5;
        h[1].action = (struct action){.type = ACTION_PIN_VCPUS, .cell = 0, .node = 1, .node_id = 2};
        idset_add(&h[1].action.vcpus, 0);
        idset_add(&h[1].action.vcpus, 1);
        idset_add(&h[1].action.cpus, 4);
        h[2].period = 9;
        h[2].action = h[1].action;
        list = daemon_explain_summary(h, 3, &sparse);
        ck_assert_uint_eq(json_object_array_length(list), 2);
        ck_assert_str_eq(text_of(list, 0), "cell 0: home set to node 2, period 5");
        ck_assert_str_eq(text_of(list, 1),
                         "cell 0: vCPUs 0-1 pinned to node 2 (CPUs 4), 2 times, periods 5,9");
        ck_assert_ptr_null(json_object_object_get(json_object_array_get_idx(list, 1), "from_node"));
        json_object_put(list);

        /* An empty history, and positions outside the topology (-1, never a position). */
        list = daemon_explain_summary(h, 0, &sparse);
        ck_assert_uint_eq(json_object_array_length(list), 0);
        json_object_put(list);
        ck_assert_int_eq(daemon_node_id(&sparse, 1), 2);
        ck_assert_int_eq(daemon_node_id(&sparse, 2), -1);
        ck_assert_int_eq(daemon_node_id(&sparse, -1), -1);
        ck_assert_int_eq(daemon_node_id(NULL, 0), -1);
}
END_TEST

/* One action's line (explain's "actions" and rebalance): kernel ids, no internal VM id, and an
 * emulator pin spilled over two nodes names both. */
START_TEST(test_action_text_uses_kernel_ids)
{
        struct history_entry m = migrate(4, 1, 0, 1, 2 << 20, 0);
        struct action e = {
                .type = ACTION_PIN_EMULATOR, .cell = -1, .node = 0, .node_id = 0, .node_mask = 0x3};
        char line[256];

        daemon_action_text(&m.action, &sparse, line, sizeof(line));
        ck_assert_str_eq(line, "cell 1: 2.0 MiB from node 0 to node 2, 1 chunk: cell 1 is hot on node 2");
        idset_add(&e.cpus, 0);
        idset_add(&e.cpus, 4);
        snprintf(e.reason, sizeof(e.reason), "spill");
        daemon_action_text(&e, &sparse, line, sizeof(line));
        ck_assert_str_eq(line, "whole VM: emulator threads pinned to nodes 0,2 (CPUs 0,4): spill");
}
END_TEST

TEST_MAIN("explain-summary", test_migrations_fold_per_cell_and_period_range,
          test_pins_and_homes_use_kernel_ids, test_action_text_uses_kernel_ids)
