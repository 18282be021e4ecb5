/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Helpers shared by the policies in this directory: the per-period working data, ledger
 * commitments, vCPU pinning, the ping-pong guard and the common memory-migration pass (window
 * scan, two-stage filter, a host-wide pool settled hottest first within the budgets). */

#include "vnuma/model/plan.h"
#include "vnuma/model/snapshot.h"
#include "vnuma/policies/policy.h"

static inline unsigned nodemask_count(nodemask_t m)
{
        return (unsigned)__builtin_popcount(m);
}

/* Lowest position in mask, or -1. */
static inline int nodemask_first(nodemask_t m)
{
        return m ? __builtin_ctz(m) : -1;
}

/* A guest cell by its position in this period's snapshot. */
struct cell_ref {
        uint32_t vm;
        uint32_t cell;
};

/* One chunk a policy wants moved this period. */
struct migrate_candidate {
        double value;  /* what moving it is worth: its share of the cell's accesses times the cell's
                        * vCPU demand (per byte); the pool moves the most valuable bytes first */
        bool bound;    /* the operator's binding (strict, preferred, interleave): goes before guesses */
        uint32_t rank; /* the VM's visiting rank, turn and misplaced bytes this period (copied */
        uint32_t turn; /* here so ordering the pool never chases pointers) */
        uint64_t misplaced;
        uint32_t vm; /* snapshot index */
        uint32_t cell;
        int from;
        int to;
        uint32_t hotness;
        uint64_t offset;
        uint64_t bytes;
        const char *why;
};

/* Working data of one planning pass, rebuilt every period in O(VMs + cells) and kept only so its
 * memory is reused. */
struct policy_work {
        /* Visiting order: snapshot indexes; policy-work.c says who goes first and why. */
        unsigned *order;
        size_t order_allocated;
        /* Cells with a single-node home at the start of the period, grouped by that node:
         * by_node[by_node_start[h] .. by_node_start[h + 1]) live on node h. The swap search looks
         * only there, as task_numa_compare looks only at the tasks of the preferred node. */
        struct cell_ref *by_node;
        size_t by_node_allocated;
        size_t by_node_start[SNAP_NODES_MAX + 1];
        /* Migration candidates offered this period, and the picked ones. */
        struct migrate_candidate *pool;
        size_t pool_n;
        size_t pool_allocated;
        size_t *heap;
        size_t heap_allocated;
};

/* Builds the visiting order and the swap index for this period (after begin_period). */
int policy_work_prepare(struct policy_state *st, const struct snapshot *s);
void policy_work_free(struct policy_work *w);

/* Placement packs like first-fit decreasing on the converged host: an auto VM that has no home
 * yet and is placed whole has its vCPU demand and memory counted as free where they are now, until
 * its own turn (policy-work.c says in which order), when it takes them back and is placed. */
void ledger_make_fluid(struct policy_state *st, const struct snapshot *s);
void ledger_unfluid_vm(struct policy_state *st, const struct snapshot *s, unsigned vm_index);

/* What the cell's vCPUs ran over the period, in CPUs (run time alone: an idle vCPU's wake-ups
 * wait behind a busy sibling, which inflates its demand but not this). */
double cell_run(const struct snapshot *s, const struct snap_cell *c);
/* Where the vCPU counts in the ledger: its current node if inside its cell's home, else the
 * home it is about to be pinned to. */
int vcpu_effective_node(const struct snap_vcpu *v, const struct cell_state *cs);
/* vCPU demand of the cell that would have to move onto node. */
double cell_demand_off(const struct snapshot *s, const struct snap_vm *vm, unsigned cell,
                       const struct cell_state *cs, int node);
/* Adds (sign +1) or removes (-1) a cell's commitments: vCPU demand at its home, memory outside its
 * home as leaving, and the same memory arriving at the home. O(nodes): uses the period's per-cell
 * demand. */
void ledger_commit_cell(struct policy_state *st, const struct snapshot *s, const struct snap_vm *vm,
                        struct vm_state *vs, unsigned cell, int sign);
/* Changes a cell's home, moving its commitments along, and records a set-home action. The new
 * home is final; mark it provisional afterwards with cell_make_provisional when it is a fallback. */
int cell_set_home(const struct snapshot *s, unsigned vm_index, struct policy_state *st, struct vm_state *vs,
                  unsigned cell, nodemask_t home_mem, nodemask_t home_cpu, struct plan *out,
                  const char *why);
void cell_make_provisional(const struct policy_params *p, struct cell_state *cs, uint64_t period);
/* The ping-pong guard: may something of this cell move onto node now? False while anything of the
 * cell left node less than settle_periods ago. */
bool cell_may_return(const struct policy_params *p, const struct cell_state *cs, int node, uint64_t period);
/* Same for every node of mask. */
bool cell_may_return_mask(const struct policy_params *p, const struct cell_state *cs, nodemask_t mask,
                          uint64_t period);
/* Pins the cell's vCPUs to its home CPU nodes when they are not there or were never pinned. A
 * provisional home is pinned only when that moves no vCPU. */
int cell_emit_pins(const struct snapshot *s, unsigned vm_index, struct vm_state *vs, unsigned cell,
                   struct plan *out);
/* Pins the emulator threads near the VM's first cell home. */
/* Sets cs->vcpu_spill: nodes beyond its home an idle cell's vCPUs may also use (policy-pin.c). */
void cell_update_spill(const struct snapshot *s, const struct policy_state *st, const struct snap_cell *c,
                       struct cell_state *cs, nodemask_t allowed);
/* Nodes beyond the VM's homes its emulator threads may also use this period (see policy-pin.c). */
nodemask_t vm_emulator_spill(const struct snapshot *s, const struct policy_state *st,
                             const struct vm_state *vs, nodemask_t allowed);
int vm_emit_emulator_pin(const struct snapshot *s, unsigned vm_index, struct vm_state *vs, nodemask_t spill,
                         struct plan *out);

/* Destination for a chunk under the policy, or -1 when the chunk is where it belongs. */
typedef int (*chunk_dest_fn)(const struct snapshot *s, const struct snap_vm *vm, const struct vm_state *vs,
                             unsigned cell, const struct snap_chunk *ch, const struct policy_ledger *l,
                             uint64_t reserve);

struct migrate_pass {
        chunk_dest_fn dest;
        bool two_stage;    /* apply the two-stage filter (auto); strict/interleave move directly */
        bool bound;        /* the destination is the operator's, not a guess: served first */
        bool dest_by_node; /* dest depends only on the chunk's node (not its offset): asked once per
                            * node and cell in a window */
        bool home_is_set;  /* a chunk belongs anywhere in home_mem: a cell resident there entirely
                            * needs no chunk walk (auto, strict; not interleave) */
        const char *why;   /* reason prefix */
};

/* Scans each cell whose scan is due and offers its misplaced chunks to the period's pool. Adapts
 * each scanned cell's scan period. Provisional homes are not migrated toward. */
int vm_migrate_pass(const struct snapshot *s, unsigned vm_index, struct policy_state *st,
                    struct vm_state *vs, const struct migrate_pass *pass, struct plan *out);
/* Settles the pool once every VM is planned: the most valuable candidates first, within each VM's
 * budget, the host budget and the destination's room; emitted per VM (visiting order), hottest
 * first. */
int migrate_pool_settle(const struct snapshot *s, struct policy_state *st, struct plan *out);

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
