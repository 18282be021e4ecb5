/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One scenario under one policy: the engine drives the simulated world for cfg->periods periods. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim-internal.h"

void sim_engine_params(const struct sim_world *w, struct policy_params *p)
{
        /* The host-wide budget scales with the host: 1 GiB/s per node. */
        p->host_migrate_rate = (UINT64_C(1) << 30) * w->host.n_nodes;
        /* Per-VM budgets grow with the VM like the kernel's scan rate (its size per second, at most
         * 2.5 GiB/s): a VM of hundreds of GiB is not held to 256 MiB/s. */
        p->vm_migrate_rate_max = UINT64_C(2560) << 20;
}

static const struct policy_ops *baseline_by_name(const char *name)
{
        if (streq(name, "none"))
                return &sim_baseline_none;
        if (streq(name, "numad"))
                return &sim_baseline_numad;
        if (streq(name, "autonuma"))
                return &sim_baseline_autonuma;
        if (streq(name, "optimal"))
                return &sim_baseline_optimal;
        return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

static uint64_t active_signature(const struct sim_world *w)
{
        uint64_t sig = 0;
        for (unsigned i = 0; i < w->n_vms; i++)
                if (w->vms[i].active)
                        sig = sig * 31 + w->vms[i].id;
        return sig;
}

int sim_run(const struct sim_config *cfg, const char *policy_name, struct sim_result *ret)
{
        static const struct engine_sampler_ops sampler = {.sense = sim_sense};
        static const struct engine_actuator_ops actuator = {.apply = sim_apply};
        static const struct engine_clock_ops clock_ops = {.now_ns = sim_clock_now_ns};
        _cleanup_(sim_world_freep) struct sim_world *w = NULL;
        _cleanup_(engine_freep) struct engine *e = NULL;
        _cleanup_free_ uint64_t *plan_ns = NULL;
        _cleanup_free_ double *series = NULL, *work = NULL;
        struct sim_optimum live = {}, fin = {};
        struct engine_config ecfg;
        const struct policy_ops *override = NULL;
        const struct policy_ops *product = policy_lookup(policy_name);
        uint64_t sig = 0;
        double final, tail = 0;
        unsigned conv, tail_from;
        int r;

        if (!product && !(override = baseline_by_name(policy_name)))
                return -EINVAL;
        r = sim_world_new(cfg, &w);
        if (r < 0)
                return r;
        if (product)
                for (unsigned i = 0; i < w->n_vms; i++)
                        w->vms[i].policy.mode = (enum vm_policy_mode)vm_policy_mode_from_string(policy_name);
        engine_config_init(&ecfg);
        ecfg.override = override;
        sim_engine_params(w, &ecfg.params);
        r = engine_new(&ecfg, &sampler, &actuator, &clock_ops, w, &e);
        if (r < 0)
                return r;

        plan_ns = calloc(cfg->periods, sizeof(*plan_ns));
        series = calloc(cfg->periods, sizeof(*series));
        work = calloc(cfg->periods, sizeof(*work));
        if (!plan_ns || !series || !work)
                return -ENOMEM;

        for (unsigned t = 0; t < cfg->periods; t++) {
                struct engine_step_result res;

                if (override == &sim_baseline_optimal && active_signature(w) != sig) {
                        sig = active_signature(w);
                        sim_optimum_done(&live);
                        r = sim_optimum_compute(w, &ecfg.params, &live);
                        if (r < 0)
                                return r;
                        engine_policy_state(e)->ext = &live;
                }
                r = engine_step(e, t, &res);
                if (r < 0) {
                        sim_optimum_done(&live);
                        return r;
                }
                plan_ns[t] = res.plan_ns;
                series[t] = sim_world_locality(w);
                work[t] = sim_world_throughput(w);
                sim_world_advance(w);
        }
        sim_optimum_done(&live);

        r = sim_optimum_compute(w, &ecfg.params, &fin);
        if (r < 0)
                return r;
        final = series[cfg->periods - 1];
        conv = cfg->periods;
        while (conv > 0 && series[conv - 1] >= final - 0.01)
                conv--;
        qsort(plan_ns, cfg->periods, sizeof(*plan_ns), cmp_u64);
        /* The work rate once placements settled: the mean of the last quarter of the periods. */
        tail_from = cfg->periods - MAX(cfg->periods / 4, 1u);
        for (unsigned t = tail_from; t < cfg->periods; t++)
                tail += work[t];
        tail /= cfg->periods - tail_from;

        *ret = (struct sim_result){
                .locality = final,
                .optimal_locality = fin.locality,
                .optimal_exact = fin.exact,
                .bytes_migrated = w->bytes_migrated,
                .lower_bound_bytes = fin.lower_bound_bytes,
                .periods_to_converge = conv,
                .pingpong_moves = w->pingpong_moves,
                .plan_us_median = (double)plan_ns[cfg->periods / 2] / 1000.0,
                .throughput = tail,
                .optimal_throughput = fin.throughput,
                .optimal_throughput_exact = fin.throughput_exact,
                .n_series = cfg->periods,
                .series = TAKE_PTR(series),
        };
        (void)snprintf(ret->policy, sizeof(ret->policy), "%s", policy_name);
        sim_optimum_done(&fin);
        return 0;
}

void sim_result_done(struct sim_result *r)
{
        if (!r)
                return;
        free(r->series);
        r->series = NULL;
}
