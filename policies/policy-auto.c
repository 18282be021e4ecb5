/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Policy "auto": the kernel's scan / fault / placement loop, run from the host for each guest
 * cell, with the VM in the role of the numa_group.
 *
 * Per period and VM: decay the fault statistics; if the whole VM fits on one node (or has a single
 * cell), place it as a group on the node holding most of its accesses; otherwise place each cell
 * on its own preferred node, swapping with another VM's cell when that node is full, and spreading
 * cells larger than any node over the fewest, closest nodes. A home taken for room rather than
 * preference stays provisional for hysteresis_periods (nothing moves toward it meanwhile); a final
 * home changes only through hysteresis, and never so that anything returns to a node it left
 * within settle_periods. vCPUs are pinned to the home, and misplaced memory moves hottest first
 * behind the two-stage filter and the byte budgets. */
#include "auto-internal.h"

/* Where a misplaced chunk goes: a node of the home with CPUs (memory already on a CPU-less tier of
 * the home stays, but nothing is sent there), the one with the most room. */
static int auto_dest(const struct snapshot *s, const struct snap_vm *vm, const struct vm_state *vs,
                     unsigned cell, const struct snap_chunk *ch, const struct policy_ledger *l,
                     uint64_t reserve)
{
        const struct cell_state *cs = &vs->cells[cell];
        nodemask_t cpu_part = cs->home_mem & cs->home_cpu;

        if (cs->home_mem == 0 || NODEMASK_TEST(cs->home_mem, ch->node))
                return -1;
        if (nodemask_count(cpu_part) == 1)
                return nodemask_first(cpu_part);
        return mask_roomiest(s, l, cpu_part ? cpu_part : cs->home_mem, ch->node);
}

/* How strongly a cell wants its preferred node: its score there minus its best elsewhere. */
static uint64_t pref_margin(const struct snapshot *s, const struct cell_state *cs)
{
        uint64_t second = 0;

        if (cs->pref < 0)
                return 0;
        for (unsigned h = 0; h < s->host.n_nodes; h++)
                if ((int)h != cs->pref)
                        second = MAX(second, cs->mem[h]);
        return cs->mem[cs->pref] - MIN(second, cs->mem[cs->pref]);
}

/* Credits (sign +1) or takes back (-1) the memory of an unplaced cell as free where it lies: while a
 * VM's cells are placed together, the ones placed first may count on the room their siblings will
 * leave behind. */
static void credit_fluid(struct policy_state *st, const struct snapshot *s, const struct snap_cell *c,
                         int sign)
{
        for (unsigned h = 0; h < s->host.n_nodes; h++)
                st->ledger.mem_free[h] += sign * (int64_t)c->resident_bytes[h];
}

/* A split VM: its cells one by one. Cells without a home yet are placed together, the ones that
 * want their preferred node most first, each counting on the room its unplaced siblings will
 * free; this pairs cells with the nodes that already hold most of them. */
static int place_cells(const struct snapshot *s, unsigned vi, struct policy_state *st, struct vm_state *vs,
                       nodemask_t allowed, struct plan *out)
{
        const struct snap_vm *vm = &s->vms[vi];
        unsigned order[VM_POLICY_CELLS_MAX], n = 0;
        int r;

        for (unsigned c = 0; c < vm->n_cells && n < VM_POLICY_CELLS_MAX; c++)
                if (vs->cells[c].home_mem == 0 && vs->cells[c].pref >= 0 &&
                    !vm_policy_cell_nodes(&vm->policy, c))
                        order[n++] = c;
        for (unsigned i = 1; i < n; i++)
                for (unsigned j = i; j > 0 && pref_margin(s, &vs->cells[order[j]]) >
                                                      pref_margin(s, &vs->cells[order[j - 1]]);
                     j--) {
                        unsigned t = order[j];
                        order[j] = order[j - 1];
                        order[j - 1] = t;
                }
        for (unsigned k = 0; k < n; k++)
                credit_fluid(st, s, &vm->cells[order[k]], +1);
        for (unsigned k = 0; k < n; k++) {
                credit_fluid(st, s, &vm->cells[order[k]], -1);
                r = auto_place_cell(s, vi, order[k], st, vs, allowed, out);
                if (r < 0) {
                        for (unsigned q = k + 1; q < n; q++)
                                credit_fluid(st, s, &vm->cells[order[q]], -1);
                        return r;
                }
        }
        for (unsigned c = 0; c < vm->n_cells; c++) {
                bool done = false;
                for (unsigned k = 0; k < n && !done; k++)
                        done = order[k] == c;
                if (done)
                        continue;
                r = auto_place_cell(s, vi, c, st, vs, allowed, out);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int auto_plan_vm(const struct snapshot *s, unsigned vi, struct policy_state *st, struct vm_state *vs,
                        struct plan *out)
{
        static const struct migrate_pass pass = {
                .dest = auto_dest,
                .two_stage = true,
                .home_is_set = true,
                .dest_by_node = true,
                .why = "auto",
        };
        const struct snap_vm *vm = &s->vms[vi];
        nodemask_t allowed = snap_host_mask_of_ids(&s->host, &vm->policy.nodes);
        bool per_cell_nodes = vm->policy.n_cell_nodes > 0;
        int r = 0;

        vm_update_stats(s, vm, vs, allowed);
        if (!vm_policy_mode_acts(vm->policy.mode))
                return 0;
        /* A VM's first reading has no CPU demand yet (run and wait times are deltas): placing it
         * then would treat busy vCPUs as idle (and the CPU they took as host work), pack them,
         * and pin them away from nodes the ping-pong guard then keeps them from. Wait for the
         * first real reading: the sampler marks the periods whose vCPU figures are none (a vCPU
         * thread read for the first time, also after the VM's first period); other producers
         * show it by no demand at all in the first. */
        if (vm->cpu_unmeasured || (vs->periods_seen <= 1 && vs->demand <= 0))
                return 0;

        if (!per_cell_nodes && (vm->n_cells == 1 || st->params.consolidate_vm))
                r = auto_place_group(s, vi, st, vs, allowed, out);
        if (r < 0)
                return r;
        if (r == 0) {
                vs->group_home = -1;
                r = place_cells(s, vi, st, vs, allowed, out);
                if (r < 0)
                        return r;
        }
        for (unsigned c = 0; c < vm->n_cells; c++) {
                cell_update_spill(s, st, &vm->cells[c], &vs->cells[c], allowed);
                r = cell_emit_pins(s, vi, vs, c, out);
                if (r < 0)
                        return r;
        }
        r = vm_emit_emulator_pin(s, vi, vs, vm_emulator_spill(s, st, vs, allowed), out);
        if (r < 0)
                return r;
        return vm_migrate_pass(s, vi, st, vs, &pass, out);
}

const struct policy_ops policy_auto_ops = {
        .name = "auto",
        .plan_vm = auto_plan_vm,
};
