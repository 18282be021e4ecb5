/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The plan shared by the policies whose homes come from the operator's settings (strict, preferred,
 * interleave): homes fixed by the settings, the region policy once, pins, then the memory pass. */
#include "vnuma/policies/policy-rules.h"

#include "policy-internal.h"

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
        r = vm_emit_emulator_pin(s, vi, vs, 0, out);
        if (r < 0)
                return r;
        return vm_migrate_pass(s, vi, st, vs, pass, out);
}
