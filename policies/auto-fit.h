/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Auto's shared arithmetic (auto-fit.c), used by group, cell and swap placement: the homes of a
 * node, what of a cell lies outside a home, nodes ranked by score, whether a cell fits. */

#include "policy-internal.h"

/* Memory and vCPU homes for a node: a CPU-less node keeps the memory (tiered) and sends the vCPUs
 * to its nearest node with CPUs. False when no node has CPUs. */
bool auto_homes_for(const struct snap_host *h, int node, nodemask_t *ret_mem, nodemask_t *ret_cpu);
/* The node a home is judged by: a single-node home, or the CPU-less node of a tiered pair; -1 for
 * no home or a spread home. */
int auto_home_node(const struct snap_host *h, nodemask_t home_mem);
/* Siblings of the cell (other cells of its VM) whose vCPUs live on node's CPU node. */
unsigned auto_siblings_on(const struct snap_host *h, const struct vm_state *vs, unsigned cell, int node);
/* Present bytes of the cell outside mem. */
uint64_t auto_bytes_off(const struct snap_cell *c, const struct cell_state *cs, nodemask_t mem,
                        unsigned n_nodes);
/* Allowed nodes by descending score (ties: more free memory, then lower position); returns how
 * many were written to order. */
unsigned auto_nodes_by_score(const struct snapshot *s, const struct policy_state *st, const uint64_t *score,
                             nodemask_t allowed, int *order);
/* The least overflow any placement can reach: demand beyond the host's CPUs, or 0. It counts the
 * VMs still waiting for their turn this period (fluid: their load is not in the ledger yet). */
double auto_overflow_floor(const struct snapshot *s, const struct policy_state *st);
/* The work the managed vCPUs lose to CPU contention, in CPUs, by the performance model
 * (perf-model.h: each vCPU does its demand times its node's CPU share), once vCPU demand that now
 * runs as from[] per node runs on node `to` instead (total of it). The host's other work shares
 * the CPUs but is not ours to count. VMs still waiting for their turn (fluid) are counted as
 * spread evenly over the host. */
double auto_work_lost_after(const struct snapshot *s, const struct policy_state *st, const double *from,
                            int to, double total);
/* Whether moving demand (a cell's, in CPUs) is worth the memory it moves: it must save the managed
 * vCPUs at least half that demand in work, and at least RULE_CPU_SLACK, so small gains that come
 * and go move nothing. */
bool auto_move_worth_it(double gain, double demand);
/* The work the managed vCPUs would lose if all demand, theirs and the host's other work, were
 * spread evenly over the host's CPUs: what a placement is judged against when no node has room. */
double auto_work_lost_even(const struct snapshot *s, const struct policy_state *st);
/* Whether the cell (uncommitted) fits on node: vCPUs against CPUs, memory against free memory. */
bool auto_cell_fits(const struct snapshot *s, const struct snap_vm *vm, unsigned cell,
                    const struct policy_state *st, const struct cell_state *cs, int node);
