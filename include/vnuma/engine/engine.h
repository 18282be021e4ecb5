/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The engine: sense -> plan -> act, once per period.
 *
 * The caller supplies the sampler (builds a snapshot), the actuator (applies one action) and the
 * clock as ops tables, so the daemon plugs in the real ones and tests and the simulator plug in
 * fakes. The engine owns the policy state, runs the policies, re-checks the byte budgets (dropping
 * and counting any migration above them), honours dry-run, and keeps a bounded history of the
 * actions applied to each VM. */

#include <stdbool.h>
#include <stdint.h>

#include "vnuma/model/plan.h"
#include "vnuma/model/snapshot.h"
#include "vnuma/policies/policy.h"

struct engine_sampler_ops {
        /* Builds the snapshot for this period. */
        int (*sense)(void *userdata, uint64_t period, struct snapshot **ret);
};

struct engine_actuator_ops {
        /* Applies one action. A failure is recorded and does not stop the others. */
        int (*apply)(void *userdata, const struct snapshot *s, const struct action *a);
};

struct engine_clock_ops {
        uint64_t (*now_ns)(void *userdata); /* monotonic */
};

struct engine_config {
        struct policy_params params;
        bool dry_run;                      /* plan and report, apply nothing */
        unsigned history_len;              /* per-VM ring size; 0 = default 64 */
        const struct policy_ops *override; /* replace the policy of acting VMs (simulator baselines) */
};

void engine_config_init(struct engine_config *c);

struct history_entry {
        uint64_t period;
        uint64_t time_ns;
        int result; /* what the actuator returned */
        struct action action;
};

struct engine_step_result {
        uint64_t period;
        uint64_t plan_ns; /* time spent in policy_plan, by the supplied clock */
        size_t n_planned;
        size_t n_applied;
        size_t n_failed;
        size_t n_dropped_budget; /* migrations the engine refused as over budget */
        uint64_t bytes_migrated; /* applied migration bytes */
};

struct engine;

int engine_new(const struct engine_config *cfg, const struct engine_sampler_ops *sampler,
               const struct engine_actuator_ops *actuator, const struct engine_clock_ops *clock,
               void *userdata, struct engine **ret);
struct engine *engine_free(struct engine *e);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct engine *, engine_free);

/* One period. The caller numbers the periods (the daemon's one counter, which status, explain
 * and the timeline all show); the number goes to the sampler and into the history. On success
 * *ret (if non-NULL) describes it. */
int engine_step(struct engine *e, uint64_t period, struct engine_step_result *ret);
/* The plan of the last step (after budget checks), valid until the next step. */
const struct plan *engine_last_plan(const struct engine *e);
/* The snapshot of the last step, valid until the next step. */
const struct snapshot *engine_last_snapshot(const struct engine *e);
struct policy_state *engine_policy_state(struct engine *e);
/* New tunables from now on (a reload): the per-VM policy state, history and last plan are kept,
 * and the next step plans with p. Dry run is not among them: a plan made while nothing was applied
 * is not a state to continue from, so a dry-run switch needs a new engine. */
void engine_set_params(struct engine *e, const struct policy_params *p);
const struct policy_params *engine_params(const struct engine *e);

/* Applied actions of a VM, oldest first: fills at most n entries, returns how many. */
size_t engine_history(const struct engine *e, uint64_t vm_id, struct history_entry *out, size_t n);
