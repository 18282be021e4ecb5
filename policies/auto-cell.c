/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Auto, per-cell placement (a split VM, or one with operator-named cell nodes): each cell on its
 * preferred node when that node has room; else provisionally on the best node that has, while a
 * swap or room on the preferred node is looked for; cells larger than any node spread over the
 * fewest, closest nodes. */
#include "vnuma/policies/policy-rules.h"

#include "auto-fit.h"
#include "auto-internal.h"

static int place_operator(const struct snapshot *s, unsigned vi, unsigned cell, struct policy_state *st,
                          struct vm_state *vs, const struct idset *ids, struct plan *out)
{
        const struct snap_host *h = &s->host;
        nodemask_t mem = snap_host_mask_of_ids(h, ids), cpu = mem & snap_host_cpu_nodes(h);

        if (cpu == 0 && mem && rule_cpu_node_for(h, nodemask_first(mem)) >= 0)
                cpu = NODEMASK_BIT(rule_cpu_node_for(h, nodemask_first(mem)));
        return cell_set_home(s, vi, st, vs, cell, mem, cpu, out, "operator named this cell's nodes");
}

static int place_spread(const struct snapshot *s, unsigned vi, unsigned cell, struct policy_state *st,
                        struct vm_state *vs, nodemask_t allowed, uint64_t size, struct plan *out)
{
        const struct snap_vm *vm = &s->vms[vi];
        const struct snap_cell *c = &vm->cells[cell];
        struct cell_state *cs = &vs->cells[cell];
        uint64_t usable[SNAP_NODES_MAX] = {0};
        uint64_t have = 0;
        nodemask_t mem, cpu;
        int anchor;

        for (unsigned h = 0; h < s->host.n_nodes; h++) {
                int64_t room = st->ledger.mem_free[h] - (int64_t)st->params.mem_reserve_bytes;
                usable[h] = (room > 0 ? (uint64_t)room : 0) + c->resident_bytes[h];
                if (NODEMASK_TEST(cs->home_mem, h))
                        have += usable[h];
        }
        /* A spread home is kept while it still holds the cell: no reshuffling as free memory moves. */
        if (nodemask_count(cs->home_mem) > 1 && have >= size)
                return 0;
        anchor = cs->pref >= 0 ? cs->pref : rule_argmax(c->resident_bytes, s->host.n_nodes, allowed);
        mem = rule_spread_nodes(&s->host, usable, anchor, size, c->resident_bytes, allowed);
        if (mem == 0)
                mem = allowed; /* nothing holds it: use every allowed node */
        cpu = mem & snap_host_cpu_nodes(&s->host);
        if (cpu == 0 && anchor >= 0 && rule_cpu_node_for(&s->host, anchor) >= 0)
                cpu = NODEMASK_BIT(rule_cpu_node_for(&s->host, anchor));
        if (cs->home_mem && !cell_may_return_mask(&st->params, cs, mem | cpu, s->period))
                return 0;
        return cell_set_home(s, vi, st, vs, cell, mem, cpu, out,
                             "cell larger than any node: spread over the fewest, closest nodes");
}

static int set_node(const struct snapshot *s, unsigned vi, unsigned cell, struct policy_state *st,
                    struct vm_state *vs, int node, bool provisional, struct plan *out, const char *why)
{
        nodemask_t mem = 0, cpu = 0;
        int r;

        (void)auto_homes_for(&s->host, node, &mem, &cpu);
        r = cell_set_home(s, vi, st, vs, cell, mem, cpu, out, why);
        if (r >= 0 && provisional)
                cell_make_provisional(&st->params, &vs->cells[cell], s->period);
        return r;
}

static bool may_move_to(const struct snapshot *s, const struct policy_state *st, const struct cell_state *cs,
                        int node)
{
        nodemask_t mem, cpu;

        return auto_homes_for(&s->host, node, &mem, &cpu) &&
               cell_may_return_mask(&st->params, cs, mem | cpu, s->period);
}

/* The node for the cell among those that take it: most siblings first (a guest node's memory is
 * also used by its siblings' vCPUs, and the group is the kernel's unit), then by score. With a
 * home, only nodes that beat it by hysteresis_pct and keep at least as many siblings together
 * qualify. CPU-less nodes only when they are the preference. */
static int first_fit(const struct snapshot *s, unsigned vi, unsigned cell, const struct policy_state *st,
                     const struct vm_state *vs, nodemask_t allowed, int home)
{
        const struct snap_vm *vm = &s->vms[vi];
        const struct cell_state *cs = &vs->cells[cell];
        unsigned home_sib = home >= 0 ? auto_siblings_on(&s->host, vs, cell, home) : 0, best_sib = 0;
        int order[SNAP_NODES_MAX], best = -1;
        unsigned n = auto_nodes_by_score(s, st, cs->mem, allowed, order);

        for (unsigned k = 0; k < n; k++) {
                int t = order[k];
                unsigned sib;

                if (t == home)
                        break;
                if (home >= 0 && cs->mem[t] * 100 < cs->mem[home] * st->params.hysteresis_pct)
                        break;
                if (t != cs->pref && s->host.node[t].n_cpus == 0)
                        continue;
                sib = auto_siblings_on(&s->host, vs, cell, t);
                if (sib < home_sib || (best >= 0 && sib <= best_sib))
                        continue;
                if (auto_cell_fits(s, vm, cell, st, cs, t) && may_move_to(s, st, cs, t)) {
                        best = t;
                        best_sib = sib;
                }
        }
        return best;
}

/* No node has room for the cell (an overcommitted host, or a packing that left no gap big enough):
 * the node where the managed vCPUs lose the least work by the performance model (perf-model.h:
 * each vCPU does its demand times its node's CPU share). The host's other work shares the CPUs but
 * is not counted: a node busy with it is no reason to pack the cell beside its busy siblings (the
 * 2-node lab, 1 CPU per node: host work on node 0 sent both busy cells of a VM to node 1, where
 * they did 1 CPU of work instead of 1.5). Among equals, the least loaded (each vCPU's share stays
 * fair), then next to most of its siblings (a guest node's memory is used by its siblings' vCPUs
 * too), then where most of its accesses already are (the least memory to move). Memory must still
 * fit. */
static int least_work_lost(const struct snapshot *s, unsigned vi, unsigned cell,
                           const struct policy_state *st, const struct vm_state *vs, nodemask_t allowed)
{
        const struct snap_vm *vm = &s->vms[vi];
        const struct cell_state *cs = &vs->cells[cell];
        double best_cost = 0, best_util = 0;
        unsigned best_sib = 0;
        int best = -1;

        for (unsigned t = 0; t < s->host.n_nodes; t++) {
                const struct snap_node *n = &s->host.node[t];
                nodemask_t mem, cpu;
                double d, load, cost, util;
                unsigned sib;

                if (!NODEMASK_TEST(allowed, t) || n->n_cpus == 0 || !may_move_to(s, st, cs, (int)t) ||
                    !auto_homes_for(&s->host, (int)t, &mem, &cpu) ||
                    !rule_mem_fits(&st->ledger, st->params.mem_reserve_bytes, (int)t,
                                   auto_bytes_off(&vm->cells[cell], cs, mem, s->host.n_nodes)))
                        continue;
                d = cell_demand_off(s, vm, cell, cs, (int)t);
                load = st->ledger.cpu_load[t];
                cost = auto_work_lost_after(s, st, cs->demand_on, (int)t, cs->demand - cs->demand_unknown);
                util = (load + d) / n->n_cpus;
                sib = auto_siblings_on(&s->host, vs, cell, (int)t);
                if (best < 0 || cost < best_cost - 1e-9 ||
                    (cost < best_cost + 1e-9 &&
                     (util < best_util - 1e-9 ||
                      (util < best_util + 1e-9 &&
                       (sib > best_sib || (sib == best_sib && cs->mem[t] > cs->mem[best])))))) {
                        best = (int)t;
                        best_cost = cost;
                        best_util = util;
                        best_sib = sib;
                }
        }
        return best;
}

static bool retry_wait(const struct policy_state *st, const struct cell_state *cs, uint64_t period)
{
        return cs->retry_pending && period < cs->last_retry + st->params.swap_retry_periods;
}

static void retry_later(struct cell_state *cs, uint64_t period)
{
        cs->retry_pending = true;
        cs->last_retry = period;
}

/* Both homes have CPUs, so a swap can trade the two cells' vCPUs. */
static bool swappable(const struct snap_host *h, int src, int dst)
{
        return src >= 0 && dst >= 0 && src != dst && h->node[src].n_cpus > 0 && h->node[dst].n_cpus > 0;
}

static int place_new(const struct snapshot *s, unsigned vi, unsigned cell, struct policy_state *st,
                     struct vm_state *vs, nodemask_t allowed, struct plan *out)
{
        struct cell_state *cs = &vs->cells[cell];
        int target;

        if (retry_wait(st, cs, s->period))
                return 0;
        target = first_fit(s, vi, cell, st, vs, allowed, -1);
        if (target < 0) {
                target = least_work_lost(s, vi, cell, st, vs, allowed);
                if (target < 0) {
                        retry_later(cs, s->period);
                        return 0;
                }
                cs->retry_pending = false;
                return set_node(s, vi, cell, st, vs, target, false, out,
                                "no node has room for it: where it costs the least work");
        }
        cs->retry_pending = false;
        if (target == cs->pref)
                return set_node(s, vi, cell, st, vs, target, false, out,
                                "most of this cell's accesses go to this node");
        if (auto_siblings_on(&s->host, vs, cell, target) > 0)
                return set_node(s, vi, cell, st, vs, target, false, out, "next to its sibling cells");
        return set_node(s, vi, cell, st, vs, target, true, out,
                        "its preferred node is full: provisionally here");
}

/* Nothing has moved toward a provisional home: take the preferred node as soon as it has room or a
 * swap frees it; otherwise the home becomes final after hysteresis_periods. */
static int place_provisional(const struct snapshot *s, unsigned vi, unsigned cell, struct policy_state *st,
                             struct vm_state *vs, nodemask_t allowed, int home, struct plan *out)
{
        const struct snap_vm *vm = &s->vms[vi];
        struct cell_state *cs = &vs->cells[cell];
        int pref = cs->pref, r;

        if (pref == home) {
                cs->provisional = false;
                return 0;
        }
        if (auto_siblings_on(&s->host, vs, cell, pref) >= auto_siblings_on(&s->host, vs, cell, home) &&
            auto_cell_fits(s, vm, cell, st, cs, pref) && may_move_to(s, st, cs, pref)) {
                cs->retry_pending = false;
                return set_node(s, vi, cell, st, vs, pref, false, out, "its preferred node has room now");
        }
        if (swappable(&s->host, home, pref) && !retry_wait(st, cs, s->period) &&
            auto_siblings_on(&s->host, vs, cell, pref) >= auto_siblings_on(&s->host, vs, cell, home)) {
                r = auto_try_swap(s, vi, cell, st, home, pref, out);
                if (r != 0)
                        return r;
                retry_later(cs, s->period);
        }
        /* Confirmed only while it still has room (vCPUs left unpinned meanwhile may have filled
         * it), or when no node has room: a provisional home that never confirms would leave the
         * memory remote for good. */
        if (s->period >= cs->confirm_at &&
            (auto_cell_fits(s, vm, cell, st, cs, home) || first_fit(s, vi, cell, st, vs, allowed, -1) < 0))
                cs->provisional = false;
        return 0;
}

/* A final home: the preferred node must win the hysteresis, then have room (or a swap partner). */
static int place_final(const struct snapshot *s, unsigned vi, unsigned cell, struct policy_state *st,
                       struct vm_state *vs, nodemask_t allowed, int home, struct plan *out)
{
        struct cell_state *cs = &vs->cells[cell];
        int pref = cs->pref, target, r;

        if (retry_wait(st, cs, s->period))
                return 0;
        if (!rule_hysteresis(&st->params, home, home >= 0 ? cs->mem[home] : 0, pref, cs->mem[pref],
                             &cs->candidate, &cs->candidate_periods))
                return 0;
        target = first_fit(s, vi, cell, st, vs, allowed, home);
        if (target != pref && swappable(&s->host, home, pref) &&
            auto_siblings_on(&s->host, vs, cell, pref) >= auto_siblings_on(&s->host, vs, cell, home)) {
                r = auto_try_swap(s, vi, cell, st, home, pref, out);
                if (r != 0) {
                        cs->retry_pending = false;
                        return r;
                }
        }
        if (target < 0) {
                /* Deferred, not forgotten: retried while the preferred node keeps winning. */
                cs->candidate = pref;
                cs->candidate_periods = st->params.hysteresis_periods - 1;
                retry_later(cs, s->period);
                return 0;
        }
        cs->retry_pending = false;
        return set_node(s, vi, cell, st, vs, target, false, out,
                        home < 0 ? "most of this cell's accesses go to this node"
                                 : "this cell's accesses moved to another node");
}

/* A cell settled on a node whose CPU demand overflows its CPUs (its siblings or neighbours turned
 * busy after it was placed) moves when another node saves the managed vCPUs enough work
 * (perf-model.h) to be worth the memory it moves (auto_move_worth_it), for hysteresis_periods in
 * a row (an idle cell gains nothing by moving; the emulator threads spill instead, policy-pin.c).
 * Returns that node, or -1. */
static int overloaded_move(const struct snapshot *s, unsigned vi, unsigned cell, struct policy_state *st,
                           struct vm_state *vs, nodemask_t allowed)
{
        static const double none[SNAP_NODES_MAX];
        struct cell_state *cs = &vs->cells[cell];
        int cpu = nodemask_count(cs->home_cpu) == 1 ? nodemask_first(cs->home_cpu) : -1, t = -1;
        double demand = cs->demand - cs->demand_unknown;

        if (cpu >= 0 && st->ledger.cpu_load[cpu] > s->host.node[cpu].n_cpus + 1e-9 &&
            (t = least_work_lost(s, vi, cell, st, vs, allowed)) >= 0 && t != cpu &&
            auto_move_worth_it(auto_work_lost_after(s, st, none, -1, 0) -
                                       auto_work_lost_after(s, st, cs->demand_on, t, demand),
                               demand)) {
                if (++cs->overloaded_periods >= MAX(st->params.hysteresis_periods, 1u))
                        return t;
                return -1;
        }
        cs->overloaded_periods = 0;
        return -1;
}

int auto_place_cell(const struct snapshot *s, unsigned vi, unsigned cell, struct policy_state *st,
                    struct vm_state *vs, nodemask_t allowed, struct plan *out)
{
        const struct snap_vm *vm = &s->vms[vi];
        const struct snap_host *h = &s->host;
        struct cell_state *cs = &vs->cells[cell];
        const struct idset *operator_nodes = vm_policy_cell_nodes(&vm->policy, cell);
        uint64_t size, max_usable = 0;
        int r = 0, target;

        if (!operator_nodes && cs->home_mem && !cs->provisional &&
            (target = overloaded_move(s, vi, cell, st, vs, allowed)) >= 0) {
                cs->overloaded_periods = 0;
                ledger_commit_cell(st, s, vm, vs, cell, -1);
                r = set_node(s, vi, cell, st, vs, target, false, out,
                             "its node's CPUs are overloaded: another takes it with less work lost");
                ledger_commit_cell(st, s, vm, vs, cell, +1);
                return r;
        }
        if (!operator_nodes && cs->home_mem && !cs->provisional && cs->pref >= 0 &&
            cs->pref == auto_home_node(h, cs->home_mem)) {
                /* Settled where it wants to be: no challenger, nothing to weigh. */
                cs->candidate = -1;
                cs->candidate_periods = 0;
                return 0;
        }
        ledger_commit_cell(st, s, vm, vs, cell, -1);
        if (operator_nodes) {
                r = place_operator(s, vi, cell, st, vs, operator_nodes, out);
                goto finish;
        }

        size = MAX(vm->cells[cell].size_bytes, cs->present);
        for (unsigned i = 0; i < h->n_nodes; i++)
                if (NODEMASK_TEST(allowed, i) && h->node[i].mem_total_bytes > st->params.mem_reserve_bytes)
                        max_usable =
                                MAX(max_usable, h->node[i].mem_total_bytes - st->params.mem_reserve_bytes);
        if (size > max_usable) {
                r = place_spread(s, vi, cell, st, vs, allowed, size, out);
                goto finish;
        }
        if (cs->pref < 0)
                goto finish;

        if (cs->home_mem == 0)
                r = place_new(s, vi, cell, st, vs, allowed, out);
        else if (cs->provisional)
                r = place_provisional(s, vi, cell, st, vs, allowed, auto_home_node(h, cs->home_mem), out);
        else
                r = place_final(s, vi, cell, st, vs, allowed, auto_home_node(h, cs->home_mem), out);
finish:
        ledger_commit_cell(st, s, vm, vs, cell, +1);
        return r;
}
