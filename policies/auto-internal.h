/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The parts of policy "auto" (policy-auto.c): group (whole-VM) placement (auto-group.c), per-cell
 * placement with spreading (auto-cell.c) and swaps (auto-swap.c); what they share is in
 * auto-fit.h. One authority per VM: while a VM has a group home its cells follow it and are never
 * placed (or swapped) on their own; a split VM is placed cell by cell. */

#include "policy-internal.h"

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
