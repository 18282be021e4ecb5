/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Policy "strict": all of a cell's memory on the named nodes (per cell if named, else the VM's
 * nodes); everything outside is moved in, within the budgets, without the two-stage filter
 * because the operator's binding is not a guess. */
#include "vnuma/policy-rules.h"

#include "policy-internal.h"

static nodemask_t cell_target_mask(const struct snap_host *h, const struct snap_vm *vm, unsigned cell)
{
        const struct idset *ids = vm_policy_cell_nodes(&vm->policy, cell);
        return snap_host_mask_of_ids(h, ids ? ids : &vm->policy.nodes);
}

int mask_roomiest(const struct snapshot *s, const struct policy_ledger *l, nodemask_t mask, int from)
{
        int best = -1;

        for (unsigned h = 0; h < s->host.n_nodes; h++) {
                if (!NODEMASK_TEST(mask, h))
                        continue;
                if (best < 0 || l->phys_free[h] > l->phys_free[best] ||
                    (l->phys_free[h] == l->phys_free[best] && from >= 0 &&
                     s->host.distance[from][h] < s->host.distance[from][best]))
                        best = (int)h;
        }
        return best;
}

static int strict_dest(const struct snapshot *s, const struct snap_vm *vm, const struct vm_state *vs,
                       unsigned cell, const struct snap_chunk *ch, const struct policy_ledger *l,
                       uint64_t reserve)
{
        const struct cell_state *cs = &vs->cells[cell];

        if (cs->home_mem == 0 || NODEMASK_TEST(cs->home_mem, ch->node))
                return -1;
        return mask_roomiest(s, l, cs->home_mem, ch->node);
}

int fixed_plan_vm(const struct snapshot *s, unsigned vi, struct policy_state *st, struct vm_state *vs,
                  struct plan *out, enum region_policy rp, cell_mask_fn mem_mask,
                  const struct migrate_pass *pass)
{
        const struct snap_vm *vm = &s->vms[vi];
        const struct snap_host *h = &s->host;
        int r;

        vm_update_stats(s, vm, vs, snap_host_mask_of_ids(h, &vm->policy.nodes));
        for (unsigned c = 0; c < vm->n_cells; c++) {
                struct cell_state *cs = &vs->cells[c];
                nodemask_t mem = mem_mask(s, vi, c, vs), cpu = mem & snap_host_cpu_nodes(h);
                struct action *a;

                if (mem == 0)
                        continue;
                if (cpu == 0 && rule_cpu_node_for(h, nodemask_first(mem)) >= 0)
                        cpu = NODEMASK_BIT(rule_cpu_node_for(h, nodemask_first(mem)));
                ledger_commit_cell(st, s, vm, vs, c, -1);
                r = cell_set_home(s, vi, st, vs, c, mem, cpu, out, "nodes named by the VM's policy");
                ledger_commit_cell(st, s, vm, vs, c, +1);
                if (r < 0)
                        return r;
                if (!cs->region_policy_sent) {
                        r = plan_add(out, ACTION_SET_REGION_POLICY, vm->id, vi, (int)c, &a);
                        if (r < 0)
                                return r;
                        a->region_policy = rp;
                        a->node_mask = mem;
                        a->node = nodemask_first(mem);
                        a->node_id = h->node[a->node].id;
                        action_set_reason(a, "policy %s", vm_policy_mode_to_string(vm->policy.mode));
                        cs->region_policy_sent = true;
                }
                r = cell_emit_pins(s, vi, vs, c, out);
                if (r < 0)
                        return r;
        }
        r = vm_emit_emulator_pin(s, vi, vs, out);
        if (r < 0)
                return r;
        return vm_migrate_pass(s, vi, st, vs, pass, out);
}

static nodemask_t strict_mask(const struct snapshot *s, unsigned vi, unsigned cell,
                              const struct vm_state *vs)
{
        return cell_target_mask(&s->host, &s->vms[vi], cell);
}

static int strict_plan_vm(const struct snapshot *s, unsigned vi, struct policy_state *st,
                          struct vm_state *vs, struct plan *out)
{
        static const struct migrate_pass pass = {
                .dest = strict_dest,
                .two_stage = false,
                .why = "strict",
        };
        return fixed_plan_vm(s, vi, st, vs, out, REGION_POLICY_BIND, strict_mask, &pass);
}

const struct policy_ops policy_strict_ops = {
        .name = "strict",
        .plan_vm = strict_plan_vm,
};
