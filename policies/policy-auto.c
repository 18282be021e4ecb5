/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Policy "auto": the kernel's scan / fault / placement loop, run from the host for each guest
 * cell, with the VM in the role of the numa_group.
 *
 * Per period and VM: decay the fault statistics; if the whole VM fits on one node (or has a single
 * cell), place it as a group on the node holding most of its accesses; otherwise place each cell
 * on its own preferred node, swapping with another VM's cell when that node is full, and spreading
 * cells larger than any node over the fewest, closest nodes. Homes change only through hysteresis.
 * vCPUs are pinned to the home, and misplaced memory moves hottest first behind the two-stage
 * filter and the byte budgets. */
#include "vnuma/policy-rules.h"

#include "policy-internal.h"

/* The home node a cell is judged against: the memory home of a single-node (or CPU-less tiered)
 * home, -1 for no home or a spread home. */
static int cell_home_node(const struct snap_host *h, const struct cell_state *cs)
{
        unsigned n = nodemask_count(cs->home_mem);

        if (n == 1)
                return nodemask_first(cs->home_mem);
        if (n == 2)
                for (unsigned i = 0; i < h->n_nodes; i++)
                        if (NODEMASK_TEST(cs->home_mem, i) && h->node[i].n_cpus == 0)
                                return (int)i;
        return -1;
}

/* Memory and vCPU homes for a preferred node: a CPU-less node keeps the memory (tiered) and sends
 * the vCPUs to its nearest node with CPUs. */
static bool homes_for(const struct snap_host *h, int node, nodemask_t *ret_mem, nodemask_t *ret_cpu)
{
        int cpu = rule_cpu_node_for(h, node);

        if (cpu < 0)
                return false;
        *ret_mem = NODEMASK_BIT(node) | NODEMASK_BIT(cpu);
        *ret_cpu = NODEMASK_BIT(cpu);
        return true;
}

static uint64_t bytes_off(const struct snap_cell *c, nodemask_t home_mem, unsigned n_nodes)
{
        uint64_t present = snap_cell_present_bytes(c);
        return present - MIN(present, snap_cell_bytes_on(c, n_nodes, home_mem));
}

static bool cell_fits(const struct snapshot *s, const struct snap_vm *vm, unsigned cell,
                      struct policy_state *st, const struct cell_state *cs, int node)
{
        nodemask_t mem, cpu;

        if (!homes_for(&s->host, node, &mem, &cpu))
                return false;
        return rule_cpu_fits(&s->host, &st->ledger, st->params.imbalance_pct, nodemask_first(cpu),
                             cell_demand_off(s, vm, cell, cs, nodemask_first(cpu))) &&
               rule_mem_fits(&st->ledger, st->params.mem_reserve_bytes, node,
                             bytes_off(&vm->cells[cell], mem, s->host.n_nodes));
}

static bool group_fits(const struct snapshot *s, const struct snap_vm *vm, struct policy_state *st,
                       const struct vm_state *vs, int node)
{
        nodemask_t mem, cpu;
        double demand = 0;
        uint64_t bytes = 0;

        if (!homes_for(&s->host, node, &mem, &cpu))
                return false;
        for (unsigned c = 0; c < vm->n_cells; c++) {
                demand += cell_demand_off(s, vm, c, &vs->cells[c], nodemask_first(cpu));
                bytes += bytes_off(&vm->cells[c], mem, s->host.n_nodes);
        }
        return rule_cpu_fits(&s->host, &st->ledger, st->params.imbalance_pct, nodemask_first(cpu), demand) &&
               rule_mem_fits(&st->ledger, st->params.mem_reserve_bytes, node, bytes);
}

/* Nodes by descending score (ties: more free memory, then lower position). */
static unsigned nodes_by_score(const struct snapshot *s, const struct policy_state *st,
                               const uint64_t *score, nodemask_t allowed, int *order)
{
        unsigned n = 0;

        for (unsigned i = 0; i < s->host.n_nodes; i++)
                if (NODEMASK_TEST(allowed, i))
                        order[n++] = (int)i;
        for (unsigned i = 1; i < n; i++)
                for (unsigned j = i; j > 0; j--) {
                        int a = order[j - 1], b = order[j];
                        bool swap = score[b] > score[a] || (score[b] == score[a] &&
                                                            st->ledger.mem_free[b] > st->ledger.mem_free[a]);
                        if (!swap)
                                break;
                        order[j - 1] = b;
                        order[j] = a;
                }
        return n;
}

static void vm_commit(struct policy_state *st, const struct snapshot *s, const struct snap_vm *vm,
                      struct vm_state *vs, int sign)
{
        for (unsigned c = 0; c < vm->n_cells; c++)
                ledger_commit_cell(st, s, vm, vs, c, sign);
}

/* Returns 1 when the VM is handled as one group, 0 to fall back to per-cell placement. */
static int auto_place_group(const struct snapshot *s, unsigned vi, struct policy_state *st,
                            struct vm_state *vs, nodemask_t allowed, struct plan *out)
{
        const struct snap_vm *vm = &s->vms[vi];
        uint64_t gstat[SNAP_NODES_MAX] = {0};
        int order[SNAP_NODES_MAX];
        int home = vs->group_home, challenger = -1, r = 1;
        unsigned n;

        for (unsigned c = 0; c < vm->n_cells; c++)
                for (unsigned h = 0; h < s->host.n_nodes; h++)
                        gstat[h] += vs->cells[c].mem[h];

        vm_commit(st, s, vm, vs, -1);
        n = nodes_by_score(s, st, gstat, allowed, order);
        for (unsigned k = 0; k < n; k++) {
                int t = order[k];
                if (t == home) {
                        challenger = home;
                        break;
                }
                if (home >= 0 && gstat[t] * 100 < gstat[home] * st->params.hysteresis_pct)
                        break;
                if (group_fits(s, vm, st, vs, t)) {
                        challenger = t;
                        break;
                }
        }

        if (home < 0 && challenger < 0) {
                vm_commit(st, s, vm, vs, +1);
                return 0;
        }
        if (rule_hysteresis(&st->params, home, home >= 0 ? gstat[home] : 0, challenger,
                            challenger >= 0 ? gstat[challenger] : 0, &vs->group_candidate,
                            &vs->group_candidate_periods)) {
                nodemask_t mem = 0, cpu = 0;
                (void)homes_for(&s->host, challenger, &mem, &cpu);
                vs->group_home = challenger;
                for (unsigned c = 0; c < vm->n_cells && r >= 0; c++) {
                        vs->cells[c].candidate = -1;
                        r = cell_set_home(
                                s, vi, st, vs, c, mem, cpu, out,
                                home < 0 ? "whole VM fits one node: most accesses there"
                                         : "whole VM: another node now holds clearly more accesses");
                }
        }
        vm_commit(st, s, vm, vs, +1);
        return r < 0 ? r : 1;
}

/* task_numa_compare over the cells homed on dst: the best swap partner for (vm vi, cell). */
static int find_swap(const struct snapshot *s, unsigned vi, unsigned cell, struct policy_state *st, int src,
                     int dst, size_t *ret_vm, unsigned *ret_cell, long *ret_imp)
{
        const struct snap_vm *vm = &s->vms[vi];
        const struct cell_state *cs = &st->vms[vi].cells[cell];
        double d_p = snap_cell_cpu_demand(s, vm, cell);
        uint64_t b_p = snap_cell_present_bytes(&vm->cells[cell]);
        long best_imp = 0;
        size_t best_vm = SIZE_MAX;
        unsigned best_cell = 0;

        for (size_t j = 0; j < st->n_vms && j < s->n_vms; j++) {
                const struct snap_vm *vm2 = &s->vms[j];
                const struct vm_state *vs2 = &st->vms[j];

                if (j == vi || vm2->policy.mode != VM_POLICY_AUTO || vs2->group_home >= 0)
                        continue;
                for (unsigned c2 = 0; c2 < vs2->n_cells && c2 < vm2->n_cells; c2++) {
                        const struct cell_state *cs2 = &vs2->cells[c2];
                        double d_cur;
                        uint64_t b_cur;
                        long imp;

                        if (cs2->home_cpu != NODEMASK_BIT(dst) || cs2->home_mem != NODEMASK_BIT(dst))
                                continue;
                        if (vm_policy_cell_nodes(&vm2->policy, c2))
                                continue; /* operator-pinned */
                        imp = rule_swap_improvement(cs->mem, cs2->mem, s->host.n_nodes, src, dst, cs2->pref);
                        if (!rule_swap_accept(imp, best_imp))
                                continue;
                        d_cur = snap_cell_cpu_demand(s, vm2, c2);
                        b_cur = snap_cell_present_bytes(&vm2->cells[c2]);
                        if (!rule_cpu_fits(&s->host, &st->ledger, st->params.imbalance_pct, dst,
                                           d_p - d_cur) ||
                            !rule_cpu_fits(&s->host, &st->ledger, st->params.imbalance_pct, src,
                                           d_cur - d_p))
                                continue;
                        /* Each side's commitment is released by the swap. */
                        if (st->ledger.mem_free[dst] + (int64_t)b_cur - (int64_t)b_p <
                                    (int64_t)st->params.mem_reserve_bytes ||
                            st->ledger.mem_free[src] + (int64_t)b_p - (int64_t)b_cur <
                                    (int64_t)st->params.mem_reserve_bytes)
                                continue;
                        best_imp = imp;
                        best_vm = j;
                        best_cell = c2;
                }
        }
        if (best_vm == SIZE_MAX)
                return 0;
        *ret_vm = best_vm;
        *ret_cell = best_cell;
        *ret_imp = best_imp;
        return 1;
}

static int auto_place_spread(const struct snapshot *s, unsigned vi, unsigned cell, struct policy_state *st,
                             struct vm_state *vs, nodemask_t allowed, uint64_t size, struct plan *out)
{
        const struct snap_vm *vm = &s->vms[vi];
        const struct snap_cell *c = &vm->cells[cell];
        struct cell_state *cs = &vs->cells[cell];
        uint64_t usable[SNAP_NODES_MAX] = {0};
        uint64_t have = 0;
        nodemask_t mem, cpu;
        int anchor, r;

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
        r = cell_set_home(s, vi, st, vs, cell, mem, cpu, out,
                          "cell larger than any node: spread over the fewest, closest nodes");
        return r;
}

static int auto_place_cell(const struct snapshot *s, unsigned vi, unsigned cell, struct policy_state *st,
                           struct vm_state *vs, nodemask_t allowed, struct plan *out)
{
        const struct snap_vm *vm = &s->vms[vi];
        const struct snap_host *h = &s->host;
        struct cell_state *cs = &vs->cells[cell];
        const struct idset *operator_nodes = vm_policy_cell_nodes(&vm->policy, cell);
        uint64_t size, max_usable = 0;
        int home, pref = cs->pref, target = -1, r = 0;
        int order[SNAP_NODES_MAX];
        nodemask_t mem = 0, cpu = 0;
        unsigned n;

        if (operator_nodes) {
                mem = snap_host_mask_of_ids(h, operator_nodes);
                cpu = mem & snap_host_cpu_nodes(h);
                if (cpu == 0 && mem && rule_cpu_node_for(h, nodemask_first(mem)) >= 0)
                        cpu = NODEMASK_BIT(rule_cpu_node_for(h, nodemask_first(mem)));
                ledger_commit_cell(st, s, vm, vs, cell, -1);
                r = cell_set_home(s, vi, st, vs, cell, mem, cpu, out, "operator named this cell's nodes");
                ledger_commit_cell(st, s, vm, vs, cell, +1);
                return r;
        }

        size = MAX(vm->cells[cell].size_bytes, snap_cell_present_bytes(&vm->cells[cell]));
        for (unsigned i = 0; i < h->n_nodes; i++)
                if (NODEMASK_TEST(allowed, i) && h->node[i].mem_total_bytes > st->params.mem_reserve_bytes)
                        max_usable =
                                MAX(max_usable, h->node[i].mem_total_bytes - st->params.mem_reserve_bytes);

        ledger_commit_cell(st, s, vm, vs, cell, -1);
        if (size > max_usable) {
                r = auto_place_spread(s, vi, cell, st, vs, allowed, size, out);
                goto finish;
        }

        home = cell_home_node(h, cs);
        if (pref < 0)
                goto finish;
        if (cs->retry_pending && s->period < cs->last_retry + st->params.swap_retry_periods)
                goto finish;
        if (!rule_hysteresis(&st->params, home, home >= 0 ? cs->mem[home] : 0, pref, cs->mem[pref],
                             &cs->candidate, &cs->candidate_periods))
                goto finish;

        /* The preferred node, else the best other node that still beats the home clearly. */
        n = nodes_by_score(s, st, cs->mem, allowed, order);
        for (unsigned k = 0; k < n && target < 0; k++) {
                int t = order[k];
                if (t == home)
                        break;
                if (home >= 0 && cs->mem[t] * 100 < cs->mem[home] * st->params.hysteresis_pct)
                        break;
                if (cell_fits(s, vm, cell, st, cs, t))
                        target = t;
        }
        if (target != pref && home >= 0 && h->node[pref].n_cpus > 0 && h->node[home].n_cpus > 0) {
                size_t vm2;
                unsigned c2;
                long imp;

                if (find_swap(s, vi, cell, st, home, pref, &vm2, &c2, &imp) > 0) {
                        struct vm_state *vs2 = &st->vms[vm2];
                        char why[ACTION_REASON_MAX];

                        ledger_commit_cell(st, s, &s->vms[vm2], vs2, c2, -1);
                        (void)snprintf(why, sizeof(why), "swap with vm %llu cell %u (improvement %ld)",
                                       (unsigned long long)s->vms[vm2].id, c2, imp);
                        r = cell_set_home(s, vi, st, vs, cell, NODEMASK_BIT(pref), NODEMASK_BIT(pref), out,
                                          why);
                        if (r >= 0) {
                                (void)snprintf(why, sizeof(why),
                                               "swap with vm %llu cell %u (improvement %ld)",
                                               (unsigned long long)vm->id, cell, imp);
                                r = cell_set_home(s, (unsigned)vm2, st, vs2, c2, NODEMASK_BIT(home),
                                                  NODEMASK_BIT(home), out, why);
                        }
                        ledger_commit_cell(st, s, &s->vms[vm2], vs2, c2, +1);
                        if (r >= 0)
                                r = cell_emit_pins(s, (unsigned)vm2, vs2, c2, out);
                        cs->retry_pending = false;
                        goto finish;
                }
        }
        if (target < 0) {
                cs->retry_pending = true;
                cs->last_retry = s->period;
                goto finish;
        }
        cs->retry_pending = false;
        (void)homes_for(h, target, &mem, &cpu);
        r = cell_set_home(s, vi, st, vs, cell, mem, cpu, out,
                          home < 0 ? "most of this cell's accesses go to this node"
                                   : "this cell's accesses moved to another node");
finish:
        ledger_commit_cell(st, s, vm, vs, cell, +1);
        return r;
}

static int auto_dest(const struct snapshot *s, const struct snap_vm *vm, const struct vm_state *vs,
                     unsigned cell, const struct snap_chunk *ch, const struct policy_ledger *l,
                     uint64_t reserve)
{
        const struct cell_state *cs = &vs->cells[cell];
        int best = -1;

        if (cs->home_mem == 0 || NODEMASK_TEST(cs->home_mem, ch->node))
                return -1;
        /* Several home nodes (spread or tiered): the one with the most room. */
        for (unsigned h = 0; h < s->host.n_nodes; h++)
                if (NODEMASK_TEST(cs->home_mem, h) && (best < 0 || l->phys_free[h] > l->phys_free[best]))
                        best = (int)h;
        return best;
}

static int auto_plan_vm(const struct snapshot *s, unsigned vi, struct policy_state *st, struct vm_state *vs,
                        struct plan *out)
{
        static const struct migrate_pass pass = {
                .dest = auto_dest,
                .two_stage = true,
                .why = "auto",
        };
        const struct snap_vm *vm = &s->vms[vi];
        nodemask_t allowed = snap_host_mask_of_ids(&s->host, &vm->policy.nodes);
        bool per_cell_nodes = vm->policy.n_cell_nodes > 0;
        int r = 0;

        vm_update_stats(s, vm, vs, allowed);
        if (!vm_policy_mode_acts(vm->policy.mode))
                return 0;

        if (!per_cell_nodes && (vm->n_cells == 1 || st->params.consolidate_vm))
                r = auto_place_group(s, vi, st, vs, allowed, out);
        if (r < 0)
                return r;
        if (r == 0) {
                vs->group_home = -1;
                for (unsigned c = 0; c < vm->n_cells; c++) {
                        r = auto_place_cell(s, vi, c, st, vs, allowed, out);
                        if (r < 0)
                                return r;
                }
        }
        for (unsigned c = 0; c < vm->n_cells; c++) {
                r = cell_emit_pins(s, vi, vs, c, out);
                if (r < 0)
                        return r;
        }
        r = vm_emit_emulator_pin(s, vi, vs, out);
        if (r < 0)
                return r;
        return vm_migrate_pass(s, vi, st, vs, &pass, out);
}

const struct policy_ops policy_auto_ops = {
        .name = "auto",
        .plan_vm = auto_plan_vm,
};
