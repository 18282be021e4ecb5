/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The parts of policy "auto": group (whole-VM) placement, per-cell placement with swaps and
 * spreading, and what they share. One authority per VM: while a VM has a group home its cells
 * follow it and are never placed (or swapped) on their own; a split VM is placed cell by cell. */

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
/* Whether the cell (uncommitted) fits on node: vCPUs against CPUs, memory against free memory. */
bool auto_cell_fits(const struct snapshot *s, const struct snap_vm *vm, unsigned cell,
                    const struct policy_state *st, const struct cell_state *cs, int node);

/* Returns 1 when the VM is placed as one group (or waits for evidence as one), 0 when it is to be
 * placed cell by cell, or a negative errno. */
int auto_place_group(const struct snapshot *s, unsigned vi, struct policy_state *st, struct vm_state *vs,
                     nodemask_t allowed, struct plan *out);
int auto_place_cell(const struct snapshot *s, unsigned vi, unsigned cell, struct policy_state *st,
                    struct vm_state *vs, nodemask_t allowed, struct plan *out);
/* task_numa_compare over the cells that lived on dst at the start of the period: swaps the cell
 * (on src, wanting dst) with the best partner when the improvement clears the thresholds and
 * neither side would move anything back to a node it left within settle_periods. Returns 1 when
 * swapped, 0 when no partner qualifies. */
int auto_try_swap(const struct snapshot *s, unsigned vi, unsigned cell, struct policy_state *st, int src,
                  int dst, struct plan *out);
