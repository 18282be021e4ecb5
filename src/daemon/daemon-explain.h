/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* explain's summary (daemon-explain.c): a VM's recent actions folded per cell, kind and nodes,
 * over their periods, each with a line for people: kernel node ids, no internal VM ids. */

#include <json-c/json.h>
#include <stddef.h>

#include "vnuma/engine/engine.h"
#include "vnuma/host/topology.h"

/* How many recent actions explain lists, and so folds at most. */
#define DAEMON_EXPLAIN_MAX 64

/* The kernel id of the host node at position pos of topo, -1 if out of range. */
int daemon_node_id(const struct host_topology *topo, int pos);
/* One action in words for people ("cell 1: vCPUs 1 pinned to node 1 (CPUs 1): why"). */
void daemon_action_text(const struct action *a, const struct host_topology *topo, char *buf, size_t size);
/* [{"type", "cell", "from_node", "node", "bytes", "actions", "failed", "first_period",
 * "last_period", "periods", "reason", "text"}], h oldest first (as engine_history gives it). */
struct json_object *daemon_explain_summary(const struct history_entry *h, size_t n,
                                           const struct host_topology *topo);
