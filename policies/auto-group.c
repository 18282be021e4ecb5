/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Auto, whole-VM placement: the VM is the numa_group. Its preferred node is the argmax of the
 * summed statistics of its cells; all cells share the home. A VM that fits no node when it is
 * first placed is split for good and placed cell by cell (auto-cell.c). */
#include "vnuma/policies/policy-rules.h"

#include "auto-fit.h"
#include "auto-internal.h"

static bool group_fits(const struct snapshot *s, const struct snap_vm *vm, const struct policy_state *st,
                       const struct vm_state *vs, int node)
{
        nodemask_t mem, cpu;
        double demand = 0;
        uint64_t bytes = 0;
        int cpu_node;

        if (!auto_homes_for(&s->host, node, &mem, &cpu))
                return false;
        cpu_node = nodemask_first(cpu);
        for (unsigned c = 0; c < vm->n_cells; c++) {
                demand += cell_demand_off(s, vm, c, &vs->cells[c], cpu_node);
                bytes += auto_bytes_off(&vm->cells[c], &vs->cells[c], mem, s->host.n_nodes);
        }
        return rule_cpu_fits(&s->host, &st->ledger, st->params.imbalance_pct, cpu_node, demand) &&
               rule_mem_fits(&st->ledger, st->params.mem_reserve_bytes, node, bytes);
}

/* The ping-pong guard for the whole VM moving to node. */
static bool group_may_move(const struct snapshot *s, const struct policy_state *st,
                           const struct vm_state *vs, int node)
{
        nodemask_t mem, cpu;

        if (!auto_homes_for(&s->host, node, &mem, &cpu))
                return false;
        for (unsigned c = 0; c < vs->n_cells; c++)
                if (!cell_may_return_mask(&st->params, &vs->cells[c], mem | cpu, s->period))
                        return false;
        return true;
}

static void vm_commit(struct policy_state *st, const struct snapshot *s, const struct snap_vm *vm,
                      struct vm_state *vs, int sign)
{
        for (unsigned c = 0; c < vm->n_cells; c++)
                ledger_commit_cell(st, s, vm, vs, c, sign);
}

static int group_set_home(const struct snapshot *s, unsigned vi, struct policy_state *st,
                          struct vm_state *vs, int node, bool provisional, struct plan *out, const char *why)
{
        nodemask_t mem = 0, cpu = 0;
        int r = 0;

        (void)auto_homes_for(&s->host, node, &mem, &cpu);
        vs->group_home = node;
        vs->group_candidate = -1;
        vs->group_candidate_periods = 0;
        for (unsigned c = 0; c < s->vms[vi].n_cells && r >= 0; c++) {
                r = cell_set_home(s, vi, st, vs, c, mem, cpu, out, why);
                if (provisional)
                        cell_make_provisional(&st->params, &vs->cells[c], s->period);
        }
        return r;
}

static void group_confirm(struct vm_state *vs)
{
        for (unsigned c = 0; c < vs->n_cells; c++)
                vs->cells[c].provisional = false;
}

/* The first node by score that takes the whole VM; CPU-less nodes only when they are the
 * preference itself (their memory then stays tiered there). */
static int group_first_fit(const struct snapshot *s, const struct snap_vm *vm, const struct policy_state *st,
                           const struct vm_state *vs, const uint64_t *gstat, nodemask_t allowed, int pref)
{
        int order[SNAP_NODES_MAX];
        unsigned n = auto_nodes_by_score(s, st, gstat, allowed, order);

        for (unsigned k = 0; k < n; k++) {
                int t = order[k];
                if (t != pref && s->host.node[t].n_cpus == 0)
                        continue;
                if (group_fits(s, vm, st, vs, t))
                        return t;
        }
        return -1;
}

/* No node has room for the whole VM (a host loaded to or past its CPUs): a node where placing it
 * whole costs the managed vCPUs no more work than spreading all demand evenly over the host would
 * (perf-model.h: each vCPU does its demand times its node's CPU share), the one with the most of
 * its accesses. Whole beats split there: split cells reach each other's memory remotely, and a
 * VM's vCPUs that share CPUs with each other rather than with another VM's wait less for each other
 * (a vCPU spinning on a lock or an IPI while its sibling waits for a CPU; the lab's overcommitted
 * scenario did a fifth of the work split that AutoNUMA and numad, which both keep such VMs whole,
 * did). The host's other work is not ours to count: a node busy with it is no reason to pack a
 * busy VM onto another node's CPUs (the 2-node lab, 1 CPU per node: host work on node 0 had the
 * two busy vCPUs of a VM share node 1's CPU). -1 when every whole placement would lose work: the
 * VM is split and its cells spread the load. */
static int group_least_work_lost(const struct snapshot *s, const struct snap_vm *vm,
                                 const struct policy_state *st, const struct vm_state *vs,
                                 const uint64_t *gstat, nodemask_t allowed)
{
        double from[SNAP_NODES_MAX] = {0}, floor = auto_overflow_floor(s, st);
        double even = auto_work_lost_even(s, st);
        /* More demand than CPUs host-wide, beyond measurement noise: whole or split, CPUs are
         * shared anyway. Otherwise a VM bigger than a node is never whole: that would pack its
         * busy vCPUs while CPUs elsewhere could run them. */
        bool overcommitted = floor > RULE_CPU_SLACK;
        int best = -1;

        for (unsigned c = 0; c < vm->n_cells && c < vs->n_cells; c++)
                for (unsigned h = 0; h < s->host.n_nodes; h++)
                        from[h] += vs->cells[c].demand_on[h];
        for (unsigned t = 0; t < s->host.n_nodes; t++) {
                const struct snap_node *n = &s->host.node[t];
                nodemask_t mem, cpu;
                uint64_t bytes = 0;

                if (!NODEMASK_TEST(allowed, t) || n->n_cpus == 0 ||
                    (!overcommitted && vs->demand > n->n_cpus + RULE_CPU_SLACK) ||
                    !auto_homes_for(&s->host, (int)t, &mem, &cpu) || !group_may_move(s, st, vs, (int)t))
                        continue;
                for (unsigned c = 0; c < vm->n_cells; c++)
                        bytes += auto_bytes_off(&vm->cells[c], &vs->cells[c], mem, s->host.n_nodes);
                if (!rule_mem_fits(&st->ledger, st->params.mem_reserve_bytes, (int)t, bytes))
                        continue;
                if (auto_work_lost_after(s, st, from, (int)t, vs->demand) > even + RULE_CPU_SLACK)
                        continue;
                if (best < 0 || gstat[t] > gstat[best])
                        best = (int)t;
        }
        return best;
}

/* A final home: a challenger must beat it by hysteresis_pct for hysteresis_periods, fit, and move
 * nothing back to where it came from too early. */
static int group_review(const struct snapshot *s, unsigned vi, struct policy_state *st, struct vm_state *vs,
                        const uint64_t *gstat, nodemask_t allowed, struct plan *out)
{
        const struct snap_vm *vm = &s->vms[vi];
        int order[SNAP_NODES_MAX];
        int home = vs->group_home, challenger = -1;
        unsigned n = auto_nodes_by_score(s, st, gstat, allowed, order);

        for (unsigned k = 0; k < n; k++) {
                int t = order[k];
                if (t == home) {
                        challenger = home;
                        break;
                }
                if (gstat[t] * 100 < gstat[home] * st->params.hysteresis_pct)
                        break;
                if (group_fits(s, vm, st, vs, t)) {
                        challenger = t;
                        break;
                }
        }
        if (!rule_hysteresis(&st->params, home, gstat[home], challenger,
                             challenger >= 0 ? gstat[challenger] : 0, &vs->group_candidate,
                             &vs->group_candidate_periods))
                return 0;
        if (!group_may_move(s, st, vs, challenger)) {
                /* Deferred, not forgotten: it moves as soon as the window allows, if it still wins. */
                vs->group_candidate = challenger;
                vs->group_candidate_periods = st->params.hysteresis_periods - 1;
                return 0;
        }
        return group_set_home(s, vi, st, vs, challenger, false, out,
                              "whole VM: another node now holds clearly more accesses");
}

/* Whether moving one busy cell of the group (its vCPUs ran at least RULE_CPU_SLACK) from its home
 * to another allowed node would save the managed vCPUs enough work (perf-model.h) to be worth the
 * memory it moves (auto_move_worth_it): the rule a split VM's cells move by (auto-cell.c,
 * overloaded_move). An idle vCPU's wake-ups wait behind a busy sibling's, which inflates its
 * demand but not its run time: that is no reason. */
static bool group_busy_cell_gains_elsewhere(const struct snapshot *s, const struct snap_vm *vm,
                                            const struct policy_state *st, const struct vm_state *vs,
                                            nodemask_t allowed)
{
        static const double none[SNAP_NODES_MAX];
        double now = auto_work_lost_after(s, st, none, -1, 0);

        for (unsigned c = 0; c < vm->n_cells && c < vs->n_cells; c++) {
                const struct cell_state *cs = &vs->cells[c];
                double from[SNAP_NODES_MAX] = {0};
                int home = cs->home_cpu ? nodemask_first(cs->home_cpu) : -1;

                if (home < 0 || cell_run(s, &vm->cells[c]) < RULE_CPU_SLACK)
                        continue;
                from[home] = cs->demand; /* committed: all of it counts at the home */
                for (unsigned t = 0; t < s->host.n_nodes; t++)
                        if ((int)t != home && NODEMASK_TEST(allowed, t) && s->host.node[t].n_cpus > 0 &&
                            auto_move_worth_it(now - auto_work_lost_after(s, st, from, (int)t, cs->demand),
                                               cs->demand))
                                return true;
        }
        return false;
}

/* A group whose vCPUs need more CPU than its home node has (they became busy after it was placed
 * together, or a phase made a second cell busy), and one of whose busy cells would do clearly more
 * work elsewhere, for hysteresis_periods in a row, is split for good: its cells lose their home
 * and are placed one by one. Busy vCPUs packed onto too few CPUs lose more work than remote memory
 * costs them (perf-model.h); on a host whose every node is full, splitting gains no CPU and costs
 * locality. */
static bool group_outgrew_home(const struct snapshot *s, const struct snap_vm *vm,
                               const struct policy_state *st, struct vm_state *vs, int home,
                               nodemask_t allowed)
{
        double cap = (double)s->host.node[home].n_cpus * st->params.imbalance_pct / 100.0;

        if (vs->demand <= cap + 1e-9 || !group_busy_cell_gains_elsewhere(s, vm, st, vs, allowed)) {
                vs->overloaded_periods = 0;
                return false;
        }
        return ++vs->overloaded_periods >= MAX(st->params.hysteresis_periods, 1u);
}

static void group_split(struct policy_state *st, const struct snapshot *s, const struct snap_vm *vm,
                        struct vm_state *vs)
{
        vm_commit(st, s, vm, vs, -1);
        for (unsigned c = 0; c < vs->n_cells; c++) {
                vs->cells[c].home_mem = 0;
                vs->cells[c].home_cpu = 0;
                vs->cells[c].provisional = false;
        }
        vs->group_home = -1;
        vs->split = true;
        vs->overloaded_periods = 0;
}

int auto_place_group(const struct snapshot *s, unsigned vi, struct policy_state *st, struct vm_state *vs,
                     nodemask_t allowed, struct plan *out)
{
        const struct snap_vm *vm = &s->vms[vi];
        uint64_t gstat[SNAP_NODES_MAX] = {0};
        int home = vs->group_home, pref, r = 0;

        if (home < 0 && vs->split)
                return 0;
        if (vm->n_cells == 0)
                return 1;
        if (home >= 0 && vm->n_cells > 1 && group_outgrew_home(s, vm, st, vs, home, allowed)) {
                group_split(st, s, vm, vs);
                return 0;
        }
        for (unsigned c = 0; c < vm->n_cells; c++)
                for (unsigned h = 0; h < s->host.n_nodes; h++)
                        gstat[h] += vs->cells[c].mem[h];
        pref = rule_argmax(gstat, s->host.n_nodes, allowed);
        if (pref < 0 && home < 0)
                return 1; /* no evidence yet: wait, as one group */
        if (home >= 0 && pref == home && !vs->cells[0].provisional) {
                /* Settled where it wants to be: no challenger, nothing to weigh. */
                vs->group_candidate = -1;
                vs->group_candidate_periods = 0;
                return 1;
        }

        vm_commit(st, s, vm, vs, -1);
        if (home < 0) {
                int pick = group_first_fit(s, vm, st, vs, gstat, allowed, pref);
                if (pick < 0 && (pick = group_least_work_lost(s, vm, st, vs, gstat, allowed)) >= 0) {
                        r = group_set_home(s, vi, st, vs, pick, false, out,
                                           "whole VM: no node has room, it costs the least work here");
                        vm_commit(st, s, vm, vs, +1);
                        return r < 0 ? r : 1;
                }
                if (pick < 0) {
                        /* Fits no node: from now on its cells are placed one by one. */
                        vs->split = true;
                        vm_commit(st, s, vm, vs, +1);
                        return 0;
                }
                r = group_set_home(s, vi, st, vs, pick, pick != pref, out,
                                   pick == pref
                                           ? "whole VM fits one node: most accesses there"
                                           : "whole VM: its preferred node is full, provisionally here");
        } else if (vs->cells[0].provisional) {
                if (pref == home)
                        group_confirm(vs);
                else if (pref >= 0 && group_fits(s, vm, st, vs, pref) && group_may_move(s, st, vs, pref))
                        r = group_set_home(s, vi, st, vs, pref, false, out,
                                           "whole VM: its preferred node has room now");
                else if (s->period >= vs->cells[0].confirm_at &&
                         (group_fits(s, vm, st, vs, home) ||
                          group_first_fit(s, vm, st, vs, gstat, allowed, pref) < 0))
                        /* Still has room (unpinned vCPUs may have filled it), or no node has: a
                         * provisional home that never confirms would leave the memory remote. */
                        group_confirm(vs);
        } else
                r = group_review(s, vi, st, vs, gstat, allowed, out);
        vm_commit(st, s, vm, vs, +1);
        return r < 0 ? r : 1;
}
