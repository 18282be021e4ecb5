/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* explain's summary: a VM's recent actions folded per cell, kind and nodes, with the periods they
 * span, in words a person reads ("cell 1: 192 MiB from node 0 to node 1, 96 chunks, periods
 * 2-3"): kernel node ids, never the model's node positions, and no internal VM ids. */
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "daemon-explain.h"
#include "vnuma/basic/idset.h"
#include "vnuma/basic/macro.h"

int daemon_node_id(const struct host_topology *topo, int pos)
{
        return topo && pos >= 0 && (unsigned)pos < topo->n_nodes ? topo->nodes[pos].id : -1;
}

/* The kernel ids of a mask of node positions, in the kernel's list format. */
static void mask_format(const struct host_topology *topo, uint32_t mask, char *buf, size_t size)
{
        struct idset ids = {};

        for (unsigned pos = 0; pos < 32; pos++)
                if ((mask >> pos) & 1u) {
                        int id = daemon_node_id(topo, (int)pos);
                        if (id >= 0 && id < IDSET_MAX)
                                idset_add(&ids, id);
                }
        if (idset_format(&ids, buf, size) < 0 || !buf[0])
                snprintf(buf, size, "?");
}

/* Entries fold into one group when these match. */
struct group {
        enum action_type type;
        int cell;
        int from; /* kernel ids; -1 where the kind has none */
        int to;
        uint32_t mask;
        bool failed;
        uint64_t bytes;
        unsigned n;
        uint64_t first, last;
        const struct history_entry *latest;
};

static bool same_group(const struct group *g, const struct history_entry *h, int from, int to)
{
        const struct action *a = &h->action;

        return g->type == a->type && g->cell == a->cell && g->from == from && g->to == to &&
               g->failed == (h->result < 0) &&
               (a->type != ACTION_SET_REGION_POLICY ||
                (g->mask == a->node_mask && g->latest->action.region_policy == a->region_policy));
}

static void append_run(char *buf, size_t size, size_t *len, uint64_t from, uint64_t to)
{
        int k;

        if (*len >= size)
                return;
        k = from == to
                    ? snprintf(buf + *len, size - *len, "%s%" PRIu64, *len ? "," : "", from)
                    : snprintf(buf + *len, size - *len, "%s%" PRIu64 "-%" PRIu64, *len ? "," : "", from, to);
        *len += k > 0 ? (size_t)k : 0;
}

/* "2-3,7": the periods of group g's entries. History is oldest first, so they come in order
 * (several entries may share a period). */
static void periods_format(const struct history_entry *h, size_t n, const int *member, int g, char *buf,
                           size_t size)
{
        uint64_t start = 0, prev = 0;
        bool have = false;
        size_t len = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < n; i++) {
                uint64_t p = h[i].period;

                if (member[i] != g)
                        continue;
                if (have && (p == prev || p == prev + 1)) {
                        prev = p;
                        continue;
                }
                if (have)
                        append_run(buf, size, &len, start, prev);
                start = prev = p;
                have = true;
        }
        if (have)
                append_run(buf, size, &len, start, prev);
        if (len >= size && size > 4)
                strcpy(buf + size - 4, "...");
}

/* What an action (or a group of n like it, bytes in all) did, in words: kernel node ids. */
static void what_text(const struct action *a, const struct host_topology *topo, int from, int to,
                      uint64_t bytes, unsigned n, char *what, size_t size)
{
        char cpus[128] = "", nodes[64] = "";

        if (idset_format(&a->cpus, cpus, sizeof(cpus)) < 0)
                snprintf(cpus, sizeof(cpus), "...");
        mask_format(topo, a->node_mask, nodes, sizeof(nodes));
        switch (a->type) {
        case ACTION_MIGRATE:
                snprintf(what, size, "%.1f MiB from node %d to node %d, %u chunk%s",
                         (double)bytes / 1048576.0, from, to, n, n == 1 ? "" : "s");
                break;
        case ACTION_PIN_VCPUS: {
                char vcpus[64] = "";

                if (idset_format(&a->vcpus, vcpus, sizeof(vcpus)) < 0)
                        snprintf(vcpus, sizeof(vcpus), "...");
                snprintf(what, size, "vCPUs %s pinned to node %d (CPUs %s)", vcpus, to, cpus);
                break;
        }
        case ACTION_PIN_EMULATOR:
                /* Several nodes when the emulator threads spill off an overloaded home. */
                if (a->node_mask & (a->node_mask - 1))
                        snprintf(what, size, "emulator threads pinned to nodes %s (CPUs %s)", nodes, cpus);
                else
                        snprintf(what, size, "emulator threads pinned to node %d (CPUs %s)", to, cpus);
                break;
        case ACTION_SET_HOME:
                if (a->node_mask & (a->node_mask - 1))
                        snprintf(what, size, "home set to nodes %s", nodes);
                else
                        snprintf(what, size, "home set to node %d", to);
                break;
        case ACTION_SET_REGION_POLICY:
                snprintf(what, size, "memory policy %s on nodes %s",
                         strna(region_policy_to_string(a->region_policy)), nodes);
                break;
        default:
                snprintf(what, size, "%s", strna(action_type_to_string(a->type)));
        }
}

static void cell_text(int cell, char *buf, size_t size)
{
        if (cell >= 0)
                snprintf(buf, size, "cell %d", cell);
        else
                snprintf(buf, size, "whole VM");
}

void daemon_action_text(const struct action *a, const struct host_topology *topo, char *buf, size_t size)
{
        char what[192], cell[24];
        int from = a->type == ACTION_MIGRATE ? daemon_node_id(topo, a->from_node) : -1;

        cell_text(a->cell, cell, sizeof(cell));
        what_text(a, topo, from, a->node_id, a->type == ACTION_MIGRATE ? a->bytes : 0, 1, what,
                  sizeof(what));
        snprintf(buf, size, "%s: %s: %s", cell, what, a->reason);
}

static void group_text(const struct group *g, const char *periods, const struct host_topology *topo,
                       char *buf, size_t size)
{
        char what[192], times[32] = "", cell[24];

        cell_text(g->cell, cell, sizeof(cell));
        if (g->n > 1 && g->type != ACTION_MIGRATE)
                snprintf(times, sizeof(times), ", %u times", g->n);
        what_text(&g->latest->action, topo, g->from, g->to, g->bytes, g->n, what, sizeof(what));
        snprintf(buf, size, "%s: %s%s, period%s %s%s%s", cell, what, times,
                 strchr(periods, ',') || strchr(periods, '-') ? "s" : "", periods,
                 g->failed ? ", FAILED: " : "", g->failed ? strerror(-g->latest->result) : "");
}

struct json_object *daemon_explain_summary(const struct history_entry *h, size_t n,
                                           const struct host_topology *topo)
{
        struct json_object *list = json_object_new_array();
        struct group groups[DAEMON_EXPLAIN_MAX];
        int member[DAEMON_EXPLAIN_MAX];
        size_t n_groups = 0;

        if (!list)
                return NULL;
        n = MIN(n, (size_t)DAEMON_EXPLAIN_MAX);
        for (size_t i = 0; i < n; i++) {
                const struct action *a = &h[i].action;
                int from = a->type == ACTION_MIGRATE ? daemon_node_id(topo, a->from_node) : -1;
                int to = a->type == ACTION_SET_REGION_POLICY ? -1 : a->node_id;
                size_t g;

                for (g = 0; g < n_groups; g++)
                        if (same_group(&groups[g], &h[i], from, to))
                                break;
                if (g == n_groups) {
                        if (n_groups == ELEMENTSOF(groups)) {
                                member[i] = -1;
                                continue;
                        }
                        groups[n_groups++] = (struct group){
                                .type = a->type,
                                .cell = a->cell,
                                .from = from,
                                .to = to,
                                .mask = a->node_mask,
                                .failed = h[i].result < 0,
                                .first = h[i].period,
                        };
                }
                groups[g].bytes += a->type == ACTION_MIGRATE ? a->bytes : 0;
                groups[g].n++;
                groups[g].last = h[i].period;
                groups[g].latest = &h[i];
                member[i] = (int)g;
        }
        for (size_t g = 0; g < n_groups; g++) {
                struct json_object *o = json_object_new_object();
                char periods[128], text[512];

                periods_format(h, n, member, (int)g, periods, sizeof(periods));
                group_text(&groups[g], periods, topo, text, sizeof(text));
                json_object_object_add(o, "type",
                                       json_object_new_string(action_type_to_string(groups[g].type)));
                json_object_object_add(o, "cell", json_object_new_int(groups[g].cell));
                json_object_object_add(o, "from_node",
                                       groups[g].from >= 0 ? json_object_new_int(groups[g].from) : NULL);
                json_object_object_add(o, "node",
                                       groups[g].to >= 0 ? json_object_new_int(groups[g].to) : NULL);
                json_object_object_add(o, "bytes", json_object_new_uint64(groups[g].bytes));
                json_object_object_add(o, "actions", json_object_new_uint64(groups[g].n));
                json_object_object_add(o, "failed", json_object_new_boolean(groups[g].failed));
                json_object_object_add(o, "first_period", json_object_new_uint64(groups[g].first));
                json_object_object_add(o, "last_period", json_object_new_uint64(groups[g].last));
                json_object_object_add(o, "periods", json_object_new_string(periods));
                json_object_object_add(o, "reason", json_object_new_string(groups[g].latest->action.reason));
                json_object_object_add(o, "text", json_object_new_string(text));
                json_object_array_add(list, o);
        }
        return list;
}
