/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sense -> plan -> act. The engine owns the policy state and the history; the caller owns the
 * world (sampler, actuator, clock). */
#include "vnuma/engine/engine.h"

#include <errno.h>
#include <stdlib.h>

#include "vnuma/engine/history.h"
#include "vnuma/policies/policy-rules.h"

#define ENGINE_HISTORY_DEFAULT 64

struct engine {
        struct engine_config cfg;
        struct engine_sampler_ops sampler;
        struct engine_actuator_ops actuator;
        struct engine_clock_ops clock;
        void *userdata;

        struct policy_state *state;
        struct plan plan;
        struct snapshot *last;

        size_t n_rings;
        struct history_ring *rings;
};

void engine_config_init(struct engine_config *c)
{
        *c = (struct engine_config){.history_len = ENGINE_HISTORY_DEFAULT};
        policy_params_init(&c->params);
}

int engine_new(const struct engine_config *cfg, const struct engine_sampler_ops *sampler,
               const struct engine_actuator_ops *actuator, const struct engine_clock_ops *clock,
               void *userdata, struct engine **ret)
{
        struct engine *e;
        int r;

        if (!cfg || !sampler || !sampler->sense || !actuator || !actuator->apply || !clock || !clock->now_ns)
                return -EINVAL;
        e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        e->cfg = *cfg;
        if (e->cfg.history_len == 0)
                e->cfg.history_len = ENGINE_HISTORY_DEFAULT;
        e->sampler = *sampler;
        e->actuator = *actuator;
        e->clock = *clock;
        e->userdata = userdata;
        plan_init(&e->plan);
        r = policy_state_new(&e->cfg.params, &e->state);
        if (r < 0) {
                free(e);
                return r;
        }
        *ret = e;
        return 0;
}

struct engine *engine_free(struct engine *e)
{
        if (!e)
                return NULL;
        for (size_t i = 0; i < e->n_rings; i++)
                history_ring_done(&e->rings[i]);
        free(e->rings);
        snapshot_free(e->last);
        plan_done(&e->plan);
        policy_state_free(e->state);
        free(e);
        return NULL;
}

static struct history_ring *ring_for(struct engine *e, uint64_t vm_id)
{
        struct history_ring *m;

        for (size_t i = 0; i < e->n_rings; i++)
                if (e->rings[i].vm_id == vm_id)
                        return &e->rings[i];
        m = realloc(e->rings, (e->n_rings + 1) * sizeof(*m));
        if (!m)
                return NULL;
        e->rings = m;
        if (history_ring_init(&e->rings[e->n_rings], vm_id, e->cfg.history_len) < 0)
                return NULL;
        return &e->rings[e->n_rings++];
}

/* Forget the history of VMs that are gone. */
static void prune_rings(struct engine *e, const struct snapshot *s)
{
        size_t k = 0;

        for (size_t i = 0; i < e->n_rings; i++) {
                bool present = false;
                for (unsigned v = 0; v < s->n_vms && !present; v++)
                        present = s->vms[v].id == e->rings[i].vm_id;
                if (present)
                        e->rings[k++] = e->rings[i];
                else
                        history_ring_done(&e->rings[i]);
        }
        e->n_rings = k;
}

/* The engine's own guard: whatever a policy planned, no VM in observe/off mode is touched and no
 * migration exceeds the per-VM or the host-wide budget of the period (one chunk larger than a
 * whole budget may go alone, rule_budget_allows). Returns how many actions were dropped. */
static size_t enforce_limits(struct engine *e, const struct snapshot *s)
{
        uint64_t host_full =
                rule_budget_for_period(&e->cfg.params, e->cfg.params.host_migrate_rate, s->period_ns);
        uint64_t host_left = host_full, *vm_left, *vm_full;
        size_t k = 0, dropped = 0;

        /* vm_left[v] and vm_full[v] = vm_left[s->n_vms + v]: one allocation. */
        vm_left = calloc(s->n_vms ? 2 * s->n_vms : 1, sizeof(*vm_left));
        vm_full = vm_left ? vm_left + s->n_vms : NULL;
        for (unsigned v = 0; vm_left && v < s->n_vms; v++)
                vm_left[v] = vm_full[v] = rule_budget_for_period(
                        &e->cfg.params, rule_vm_migrate_rate(&e->cfg.params, &s->vms[v]), s->period_ns);

        for (size_t i = 0; i < e->plan.n_actions; i++) {
                const struct action *a = &e->plan.actions[i];
                bool keep = a->vm_index < s->n_vms && s->vms[a->vm_index].id == a->vm_id &&
                            vm_policy_mode_acts(s->vms[a->vm_index].policy.mode);

                if (keep && a->type == ACTION_MIGRATE) {
                        if (!vm_left ||
                            !rule_budget_allows(vm_left[a->vm_index], vm_full[a->vm_index], a->bytes) ||
                            !rule_budget_allows(host_left, host_full, a->bytes))
                                keep = false;
                        else {
                                vm_left[a->vm_index] -= MIN(a->bytes, vm_left[a->vm_index]);
                                host_left -= MIN(a->bytes, host_left);
                        }
                }
                if (keep)
                        e->plan.actions[k++] = *a;
                else
                        dropped++;
        }
        e->plan.n_actions = k;
        free(vm_left);
        return dropped;
}

int engine_step(struct engine *e, uint64_t period, struct engine_step_result *ret)
{
        struct engine_step_result res = {.period = period};
        struct snapshot *s = NULL;
        uint64_t t0, t1;
        int r;

        r = e->sampler.sense(e->userdata, period, &s);
        if (r < 0)
                return r;
        snapshot_free(e->last);
        e->last = s;

        plan_reset(&e->plan);
        t0 = e->clock.now_ns(e->userdata);
        r = policy_plan(s, e->cfg.override, e->state, &e->plan);
        t1 = e->clock.now_ns(e->userdata);
        if (r < 0)
                return r;
        res.plan_ns = t1 - t0;
        res.n_planned = e->plan.n_actions;
        res.n_dropped_budget = enforce_limits(e, s);
        prune_rings(e, s);

        for (size_t i = 0; !e->cfg.dry_run && i < e->plan.n_actions; i++) {
                const struct action *a = &e->plan.actions[i];
                struct history_ring *ring;
                struct history_entry h;

                r = e->actuator.apply(e->userdata, s, a);
                if (r < 0) {
                        policy_state_note_failed(e->state, s, a);
                        res.n_failed++;
                } else {
                        policy_state_note_applied(e->state, s, a);
                        res.n_applied++;
                        if (a->type == ACTION_MIGRATE)
                                res.bytes_migrated += a->bytes;
                }
                ring = ring_for(e, a->vm_id);
                if (!ring)
                        return -ENOMEM;
                h = (struct history_entry){
                        .period = period,
                        .time_ns = e->clock.now_ns(e->userdata),
                        .result = r,
                        .action = *a,
                };
                history_ring_push(ring, &h);
        }

        if (ret)
                *ret = res;
        return 0;
}

const struct plan *engine_last_plan(const struct engine *e)
{
        return &e->plan;
}

const struct snapshot *engine_last_snapshot(const struct engine *e)
{
        return e->last;
}

struct policy_state *engine_policy_state(struct engine *e)
{
        return e->state;
}

void engine_set_params(struct engine *e, const struct policy_params *p)
{
        /* The policies read st->params at every plan, the budget check e->cfg.params. */
        e->cfg.params = *p;
        e->state->params = *p;
}

const struct policy_params *engine_params(const struct engine *e)
{
        return &e->cfg.params;
}

size_t engine_history(const struct engine *e, uint64_t vm_id, struct history_entry *out, size_t n)
{
        for (size_t i = 0; i < e->n_rings; i++)
                if (e->rings[i].vm_id == vm_id)
                        return history_ring_copy(&e->rings[i], out, n);
        return 0;
}
