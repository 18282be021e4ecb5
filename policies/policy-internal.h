/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Helpers shared by the policies in this directory: ledger commitments, vCPU pinning and the
 * common memory-migration pass (window scan, two-stage filter, hottest first, budgets). */

#include "vnuma/plan.h"
#include "vnuma/policy.h"
#include "vnuma/snapshot.h"

static inline unsigned nodemask_count(nodemask_t m)
{
        return (unsigned)__builtin_popcount(m);
}

/* Lowest position in mask, or -1. */
static inline int nodemask_first(nodemask_t m)
{
        return m ? __builtin_ctz(m) : -1;
}

/* CPUs a vCPU used over the period. */
double vcpu_demand(const struct snapshot *s, const struct snap_vcpu *v);
/* Where the vCPU counts in the ledger: its current node if inside its cell's home, else the
 * home it is about to be pinned to. */
int vcpu_effective_node(const struct snap_vcpu *v, const struct cell_state *cs);
/* vCPU demand of the cell that would have to move onto node. */
double cell_demand_off(const struct snapshot *s, const struct snap_vm *vm, unsigned cell,
                       const struct cell_state *cs, int node);
/* Adds (sign +1) or removes (-1) a cell's commitments: vCPU demand at its home and the memory
 * still to arrive at a single-node home. */
void ledger_commit_cell(struct policy_state *st, const struct snapshot *s, const struct snap_vm *vm,
                        struct vm_state *vs, unsigned cell, int sign);
/* Changes a cell's home, moving its commitments along, and records a set-home action. */
int cell_set_home(const struct snapshot *s, unsigned vm_index, struct policy_state *st, struct vm_state *vs,
                  unsigned cell, nodemask_t home_mem, nodemask_t home_cpu, struct plan *out,
                  const char *why);
/* Pins the cell's vCPUs to its home CPU nodes when they are not there or were never pinned. */
int cell_emit_pins(const struct snapshot *s, unsigned vm_index, struct vm_state *vs, unsigned cell,
                   struct plan *out);
/* Pins the emulator threads near the VM's first cell home. */
int vm_emit_emulator_pin(const struct snapshot *s, unsigned vm_index, struct vm_state *vs, struct plan *out);

/* Destination for a chunk under the policy, or -1 when the chunk is where it belongs. */
typedef int (*chunk_dest_fn)(const struct snapshot *s, const struct snap_vm *vm, const struct vm_state *vs,
                             unsigned cell, const struct snap_chunk *ch, const struct policy_ledger *l,
                             uint64_t reserve);

struct migrate_pass {
        chunk_dest_fn dest;
        bool two_stage;  /* apply the two-stage filter (auto); strict/interleave move directly */
        const char *why; /* reason prefix */
};

/* Scans each cell whose scan is due, and plans migrations hottest first within the budgets and
 * memory room. Adapts each scanned cell's scan period. */
int vm_migrate_pass(const struct snapshot *s, unsigned vm_index, struct policy_state *st,
                    struct vm_state *vs, const struct migrate_pass *pass, struct plan *out);

/* Decays every cell's statistics with this period's evidence (shared by auto and observe). */
void vm_update_stats(const struct snapshot *s, const struct snap_vm *vm, struct vm_state *vs,
                     nodemask_t allowed);

/* The node of mask with most physical room this period, ties to the nearest to `from`. */
int mask_roomiest(const struct snapshot *s, const struct policy_ledger *l, nodemask_t mask, int from);
/* Interleave: the node of mask that chunk_index belongs on, or -1 for an empty mask. */
int interleave_node_for(nodemask_t mask, uint64_t chunk_index);

typedef nodemask_t (*cell_mask_fn)(const struct snapshot *s, unsigned vm_index, unsigned cell,
                                   const struct vm_state *vs);
/* Shared by strict, preferred and interleave: homes fixed by the settings, the region policy
 * once, pins, then the memory pass. */
int fixed_plan_vm(const struct snapshot *s, unsigned vm_index, struct policy_state *st, struct vm_state *vs,
                  struct plan *out, enum region_policy rp, cell_mask_fn mem_mask,
                  const struct migrate_pass *pass);
