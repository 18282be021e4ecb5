/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Placement policies: pure functions from (snapshot, state) to a plan.
 *
 * A policy does no I/O, reads no clock, touches no globals and draws no random numbers. All the
 * memory it needs between periods (decayed fault statistics, home nodes, hysteresis counters,
 * two-stage filter bits, scan periods, this period's budgets and capacity ledger) lives in a
 * struct policy_state that the engine owns and passes in. Replaying the same snapshots into the
 * same state gives the same plans, which is what the simulator and the unit tests rely on.
 *
 * Budgets: policies themselves keep migrations within the per-VM and host-wide byte budgets of
 * the period (policy_state.ledger); the engine checks again and drops anything above them. */

#include <stdbool.h>
#include <stdint.h>

#include "vnuma/model/plan.h"
#include "vnuma/model/snapshot.h"

struct policy_work;

struct policy_params {
        unsigned imbalance_pct;      /* vCPU demand may reach n_cpus * pct / 100 (kernel: 125) */
        uint64_t mem_reserve_bytes;  /* never plan a node below this much free memory */
        uint64_t vm_migrate_rate;    /* default per-VM budget, bytes/s (vm_policy.migrate_rate) */
        uint64_t host_migrate_rate;  /* host-wide budget, bytes/s */
        unsigned hysteresis_periods; /* a new home must win this many periods in a row */
        unsigned hysteresis_pct;     /* ... by this much: score(new) * 100 >= score(home) * pct */
        unsigned scan_period_min;    /* in periods */
        unsigned scan_period_max;
        unsigned local_threshold_pct; /* lengthen the scan period at or above this locality */
        unsigned swap_retry_periods;  /* retry a failed placement at most this often */
        bool consolidate_vm;          /* the VM is the numa_group: keep a VM that fits on one node */
        /* No home change may send anything back to a node it left less than this many periods ago
         * (the ping-pong guard; moves count once the engine reports them applied). */
        unsigned settle_periods;
        /* When non-zero, the default per-VM budget grows with the VM's size, like the kernel's scan
         * rate (the whole RSS per second, at most 2.5 GB/s): min(size per second, this), but never
         * below vm_migrate_rate. 0 keeps vm_migrate_rate for every VM. An explicit
         * vm_policy.migrate_rate always wins. */
        uint64_t vm_migrate_rate_max;
        /* A period's migration budgets cover at most this much time: a timer that fired late does
         * not make up for it in one burst. 0: the whole period, however long. */
        uint64_t budget_period_max_ns;
};

void policy_params_init(struct policy_params *p);

#define CELL_MOVED_MAX 32

struct cell_state {
        uint64_t mem[SNAP_NODES_MAX]; /* decayed: x = x/2 + new accesses by this cell's vCPUs */
        uint64_t cpu[SNAP_NODES_MAX]; /* decayed vCPU runtime (ns) per node */
        int pref;                     /* argmax of mem, -1 before any evidence */
        nodemask_t home_mem;          /* where the memory belongs; 0 = no home yet */
        nodemask_t home_cpu;          /* where the vCPUs belong (CPU nodes only) */
        nodemask_t pinned;            /* home_cpu (| vcpu_spill) as last pinned; 0 = never pinned */
        /* Nodes beyond the home an idle cell's vCPUs may also run on while the home's CPUs are
         * overloaded (policy-pin.c), and the home they were chosen for. */
        nodemask_t vcpu_spill;
        nodemask_t vcpu_spill_home;
        int candidate; /* hysteresis: challenger node, -1 none */
        unsigned candidate_periods;
        unsigned scan_period; /* periods between scans of this cell */
        uint64_t next_scan;   /* period number of the next scan */
        uint64_t last_retry;  /* period of the last failed placement attempt */
        bool retry_pending;
        bool region_policy_sent;
        /* A home chosen for room rather than preference is provisional: nothing is moved toward it
         * (no migration, no pin that moves a vCPU) until it is confirmed, so a better home found
         * meanwhile (the preferred node frees up, or a swap) costs nothing. */
        bool provisional;
        uint64_t confirm_at;         /* period a provisional home becomes final */
        unsigned overloaded_periods; /* consecutive periods its home overflowed while CPUs idled elsewhere */
        /* Per host node: 1 + the period something of this cell (a chunk or a vCPU) was last moved
         * away from it, 0 never. A home change back to such a node waits for settle_periods. */
        uint64_t left_at[SNAP_NODES_MAX];
        /* This period's view of the snapshot, filled by policy_state_begin_period. */
        uint64_t present;                 /* resident bytes */
        double demand;                    /* vCPU demand in CPUs */
        double demand_on[SNAP_NODES_MAX]; /* ... of the vCPUs that ran on each node */
        double demand_unknown;            /* ... of the vCPUs whose node is unknown */
        unsigned n_vcpus;                 /* vCPUs of the cell */
        nodemask_t vcpu_nodes;            /* nodes its vCPUs ran on */
        /* Two-stage filter: one bit per chunk index, set when that chunk was seen misplaced at its
         * last scan. */
        size_t n_seen_words;
        uint64_t *seen_misplaced;
        /* Chunks moved lately (the last 32). One that must move again soon (the move failed, or the pages
         * came back: kernel NUMA balancing, pages migration cannot take) waits, 4 periods doubling to 64,
         * instead of being planned every period for nothing. */
        struct moved_chunk {
                uint64_t offset;
                uint64_t moved_at; /* period of the last move or failed attempt */
                uint64_t retry_at; /* not planned before this period */
                unsigned strikes;
        } moved[CELL_MOVED_MAX];
};

struct vm_state {
        uint64_t vm_id;
        unsigned n_cells;
        struct cell_state *cells;
        int group_home; /* whole-VM home when consolidated, -1 otherwise */
        int group_candidate;
        unsigned group_candidate_periods;
        nodemask_t emulator_mask; /* nodes the emulator was last pinned to, 0 none */
        nodemask_t emulator_home; /* the VM's home nodes when emulator_mask was chosen */
        uint64_t budget_left;     /* bytes this VM may still migrate this period */
        uint64_t budget_full;     /* this period's budget before anything was charged */
        uint64_t budget_debt;     /* bytes an oversized chunk took beyond earlier budgets */
        uint64_t periods_seen;
        bool split;         /* placed cell by cell: it fit no single node when it was placed */
        bool fluid;         /* this period: not placed yet, its load counted as free until its turn */
        unsigned rank;      /* position in this period's visiting order */
        unsigned turn;      /* position in this period's rotation (fair turns for the budgets) */
        uint64_t misplaced; /* this period: bytes its migration pass found away from home */
        double demand;      /* this period: vCPU demand of the whole VM, in CPUs */
        unsigned overloaded_periods; /* consecutive periods the group needed more CPU than its home has */
};

/* Per-period view of what is left on each node after the actions planned so far. */
struct policy_ledger {
        double cpu_load[SNAP_NODES_MAX];   /* busy CPUs, after planned vCPU moves */
        double other_load[SNAP_NODES_MAX]; /* the part of cpu_load that is not a managed vCPU's */
        double fluid_demand;               /* vCPU demand of the VMs waiting for their turn (fluid) */
        int64_t mem_free[SNAP_NODES_MAX];  /* free bytes minus memory promised to homes: for placement */
        int64_t phys_free[SNAP_NODES_MAX]; /* free bytes minus this period's planned inflow: for moves */
        uint64_t host_budget_left;
        uint64_t host_budget_full;
};

struct policy_state {
        struct policy_params params;
        size_t n_vms; /* after policy_state_sync: same order as the snapshot's vms */
        size_t allocated;
        struct vm_state *vms;
        struct policy_ledger ledger;
        uint64_t host_budget_debt; /* the host-wide budget's debt (rule_budget_charge) */
        /* Read-only input for policies outside the registry (the simulator's baselines get their
         * precomputed assignment here); product policies never look at it. */
        const void *ext;
        /* Reused working memory for candidate lists; not meaningful between calls. */
        void *scratch;
        size_t scratch_size;
        /* Per-period working data of the policies (visiting order, swap index, migration pool). */
        struct policy_work *work;
};

int policy_state_new(const struct policy_params *params, struct policy_state **ret);
struct policy_state *policy_state_free(struct policy_state *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct policy_state *, policy_state_free);
/* Matches per-VM state to the snapshot by VM id: keeps known VMs, creates state for new ones,
 * drops departed ones; afterwards st->vms[i] belongs to s->vms[i]. */
int policy_state_sync(struct policy_state *st, const struct snapshot *s);
/* Fills the ledger from the snapshot and the period's budgets. */
void policy_state_begin_period(struct policy_state *st, const struct snapshot *s);
/* The state of a VM by id, or NULL. */
struct vm_state *policy_state_find(struct policy_state *st, uint64_t vm_id);
/* The engine reports each action it applied successfully, so the ping-pong guard counts only
 * moves that happened (not dry-run plans, not failures). s is the snapshot the plan came from. */
void policy_state_note_applied(struct policy_state *st, const struct snapshot *s, const struct action *a);
/* The actuator refused or failed a: what the planner took as done is due again. */
void policy_state_note_failed(struct policy_state *st, const struct snapshot *s, const struct action *a);
/* Whether a chunk of the cell is backing off after moves that did not hold. */
bool cell_chunk_backing_off(const struct cell_state *cs, uint64_t offset, uint64_t period);

struct policy_ops {
        const char *name;
        /* Plans one VM. May update st (its vm_state and the shared ledger) and append to out. */
        int (*plan_vm)(const struct snapshot *s, unsigned vm_index, struct policy_state *st,
                       struct vm_state *vs, struct plan *out);
};

/* The product policies: auto, strict, preferred, interleave, observe, off. */
const struct policy_ops *policy_for_mode(enum vm_policy_mode mode);
/* By name, or NULL. */
const struct policy_ops *policy_lookup(const char *name);

/* One planning pass over the whole snapshot: sync, begin period, then each VM with the policy of
 * its mode. When override is non-NULL it replaces the policy of every VM whose mode acts (used by
 * the simulator's baselines); VMs in observe or off mode keep theirs. VMs are visited biggest
 * (vCPU demand) first, so placement packs like first-fit decreasing; equals in a period-dependent
 * rotation. The product policies offer their migrations to a pool that is settled last: the most
 * valuable bytes of the host (hotness share times vCPU demand) go first within every budget. */
int policy_plan(const struct snapshot *s, const struct policy_ops *override, struct policy_state *st,
                struct plan *out);
