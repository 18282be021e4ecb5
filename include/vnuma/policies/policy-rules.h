/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The individual rules the policies are built from, exposed so each one can be tested with
 * numbers. They are the host-side, per-guest-cell counterparts of the kernel's NUMA balancing
 * steps (named in each comment). All are pure. */

#include <stdbool.h>
#include <stdint.h>

#include "vnuma/policies/policy.h"

/* task_numa_fault's decay: x = x/2 + new, per node. */
void rule_decay(uint64_t *stat, const uint64_t *fresh, unsigned n_nodes);

/* task_numa_placement: argmax over allowed nodes, ties to the lower position; -1 if all zero. */
int rule_argmax(const uint64_t *stat, unsigned n_nodes, nodemask_t allowed);

/* A CPU-less preferred node maps to its nearest node with CPUs for vCPUs. */
int rule_cpu_node_for(const struct snap_host *h, int pos);

/* task_numa_find_cpu's capacity test: may `demand` CPUs and `bytes` of memory move onto node? */
/* CPUs of slack in rule_cpu_fits (noise, emulator threads). */
#define RULE_CPU_SLACK 0.1
bool rule_cpu_fits(const struct snap_host *h, const struct policy_ledger *l, unsigned imbalance_pct,
                   int node, double demand);
bool rule_mem_fits(const struct policy_ledger *l, uint64_t reserve, int node, uint64_t bytes);

/* task_weight: 1000 * faults(node) / total faults; 0 when there are none. */
long rule_weight(const uint64_t *stat, unsigned n_nodes, int node);

#define RULE_SMALLIMP 30

/* task_numa_compare's improvement of swapping cell p (on src, wanting dst) with cell cur (on dst).
 * p_stat and cur_stat are the decayed fault statistics; cur_pref is cur's preferred node. */
long rule_swap_improvement(const uint64_t *p_stat, const uint64_t *cur_stat, unsigned n_nodes, int src,
                           int dst, int cur_pref);
/* Whether imp is a usable swap given the best so far (0 when none): imp >= SMALLIMP and it beats
 * best_imp by more than SMALLIMP / 2. */
bool rule_swap_accept(long imp, long best_imp);

/* Hysteresis: returns true when the home should change to `challenger` now. Updates the
 * candidate and its streak. The challenger has to beat the home's score by hysteresis_pct and
 * stay the challenger for hysteresis_periods consecutive periods. */
bool rule_hysteresis(const struct policy_params *p, int home, uint64_t home_score, int challenger,
                     uint64_t challenger_score, int *candidate, unsigned *candidate_periods);

/* The fewest, closest nodes whose usable memory holds `bytes`: minimal count first, then minimal
 * total distance from `anchor`, then most bytes already resident (fewer moves). 0 if no set fits. */
nodemask_t rule_spread_nodes(const struct snap_host *h, const uint64_t *usable, int anchor, uint64_t bytes,
                             const uint64_t *resident, nodemask_t allowed);

/* update_task_scan_period: longer while local_pct >= threshold, halved when it drops below. */
unsigned rule_scan_period(const struct policy_params *p, unsigned current, unsigned local_pct);

/* The two-stage filter for one chunk: returns true if the chunk may migrate now (it was seen
 * misplaced at its previous scan too). Records this scan's observation. */
static inline bool rule_two_stage(struct cell_state *cs, uint64_t chunk_index, bool misplaced)
{
        /* Inline: the migration pass calls it for every chunk of every window. */
        size_t w = (size_t)(chunk_index / 64);
        uint64_t bit = UINT64_C(1) << (chunk_index % 64);
        bool was;

        if (w >= cs->n_seen_words)
                return false; /* no room reserved: never move blindly */
        was = cs->seen_misplaced[w] & bit;
        if (misplaced)
                cs->seen_misplaced[w] |= bit;
        else
                cs->seen_misplaced[w] &= ~bit;
        return misplaced && was;
}
/* Makes sure the filter has room for n_chunk_indexes bits. */
int rule_two_stage_reserve(struct cell_state *cs, uint64_t n_chunk_indexes);
void rule_two_stage_clear(struct cell_state *cs);

/* Bytes this VM may migrate now: the smaller of its own and the host's remaining budget. */
uint64_t rule_budget_available(const struct policy_state *st, const struct vm_state *vs);
/* Charges a migration against both budgets; what goes beyond a budget (an oversized chunk, see
 * rule_budget_allows) becomes a debt that the next periods' budgets pay first. */
void rule_budget_charge(struct policy_state *st, struct vm_state *vs, uint64_t bytes);
/* Whether a chunk of bytes fits a budget with left of full bytes left this period. A chunk larger
 * than a whole period's budget (a 1 GiB page under a rate of 256 MiB/s) could never move, so it
 * may go alone in a period whose budget is untouched; its excess is then a debt. */
bool rule_budget_allows(uint64_t left, uint64_t full, uint64_t bytes);
/* A period's budget of full bytes once *debt is paid from it (what is left of the debt stays). */
uint64_t rule_budget_after_debt(uint64_t full, uint64_t *debt);
/* The budget rate (bytes/s) of one VM: its own migrate_rate; else vm_migrate_rate, grown with the
 * VM's size up to vm_migrate_rate_max when that is set. */
uint64_t rule_vm_migrate_rate(const struct policy_params *p, const struct snap_vm *vm);
/* Bytes one period of `rate` bytes/s allows. */
uint64_t rule_budget_for_period(const struct policy_params *p, uint64_t rate, uint64_t period_ns);
