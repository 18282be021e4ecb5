/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vCPU and emulator pinning toward a cell's home: first touch then lands locally too. */
#include "vnuma/policies/policy-rules.h"

#include "policy-internal.h"

#define SPILL_BUSY 0.5 /* CPUs a spilled cell's vCPUs run before it is pinned to its home alone */

static struct idset cpus_of(const struct snap_host *h, nodemask_t mask)
{
        struct idset cpus = IDSET_EMPTY;
        for (unsigned i = 0; i < h->n_nodes; i++)
                if (NODEMASK_TEST(mask, i))
                        idset_or(&cpus, &h->node[i].cpus);
        return cpus;
}

int cell_emit_pins(const struct snapshot *s, unsigned vm_index, struct vm_state *vs, unsigned cell,
                   struct plan *out)
{
        const struct snap_vm *vm = &s->vms[vm_index];
        struct cell_state *cs = &vs->cells[cell];
        nodemask_t target = cs->home_cpu | (cs->vcpu_spill_home == cs->home_cpu ? cs->vcpu_spill : 0);
        struct idset vcpus = IDSET_EMPTY;
        bool stray = false;
        struct action *a;
        int r;

        if (vm->policy.pin != VM_PIN_VCPUS || cs->home_cpu == 0 || cs->n_vcpus == 0)
                return 0;
        /* From the period's per-cell summary: no walk over the vCPUs unless a pin is due. */
        stray = (cs->vcpu_nodes & ~target) != 0;
        if (!stray && cs->pinned == target)
                return 0;
        /* Toward a provisional home only the affinity is held; nothing is moved yet. */
        if (stray && cs->provisional)
                return 0;
        for (unsigned i = 0; i < vm->n_vcpus; i++)
                if (vm->vcpus[i].cell == cell)
                        idset_add(&vcpus, (int)vm->vcpus[i].index);

        r = plan_add(out, ACTION_PIN_VCPUS, vm->id, vm_index, (int)cell, &a);
        if (r < 0)
                return r;
        a->vcpus = vcpus;
        a->cpus = cpus_of(&s->host, target);
        a->node = nodemask_first(cs->home_cpu);
        a->node_id = s->host.node[a->node].id;
        a->node_mask = target;
        if (target != cs->home_cpu)
                action_set_reason(a,
                                  "cell %u vCPUs, idle, follow its home (node %d) and spare CPUs elsewhere",
                                  cell, a->node_id);
        else
                action_set_reason(a, "cell %u vCPUs follow its home (node %d)", cell, a->node_id);
        cs->pinned = target;
        return 1;
}

/* Allowed nodes outside home with a spare CPU share, when a node of home has more demand than
 * CPUs; else 0. */
static nodemask_t spare_beside_overloaded(const struct snapshot *s, const struct policy_state *st,
                                          nodemask_t home, nodemask_t allowed)
{
        const struct snap_host *h = &s->host;
        nodemask_t spare = 0;
        bool overloaded = false;

        for (unsigned n = 0; n < h->n_nodes; n++)
                if (NODEMASK_TEST(home, n) && st->ledger.cpu_load[n] > h->node[n].n_cpus + 1e-9)
                        overloaded = true;
        if (!overloaded)
                return 0;
        for (unsigned n = 0; n < h->n_nodes; n++)
                if (NODEMASK_TEST(allowed & ~home, n) && h->node[n].n_cpus > 0 &&
                    st->ledger.cpu_load[n] + RULE_CPU_SLACK <= h->node[n].n_cpus)
                        spare |= NODEMASK_BIT(n);
        return spare;
}

/* An idle cell (its vCPUs ran less than RULE_CPU_SLACK of a CPU) on an overloaded home lets its
 * vCPUs also run where CPUs are spare: each wake-up of an idle vCPU pinned beside a busy one
 * preempts it. Its memory stays: an idle vCPU reaches it rarely. Run time, not demand, tells
 * idle: an idle vCPU's wake-ups wait behind the busy one, and run + wait crossed the threshold
 * and back every period in the lab, flapping the pins. Once spilled a cell stays so while the
 * home stays, until its vCPUs run SPILL_BUSY; then they are pinned to the home alone again. */
void cell_update_spill(const struct snapshot *s, const struct policy_state *st, const struct snap_cell *c,
                       struct cell_state *cs, nodemask_t allowed)
{
        bool spilled = cs->vcpu_spill && cs->vcpu_spill_home == cs->home_cpu;
        double run = cell_run(s, c);
        if (cs->home_cpu == 0 || run >= (spilled ? SPILL_BUSY : RULE_CPU_SLACK)) {
                cs->vcpu_spill = 0;
                return;
        }
        if (spilled)
                return;
        cs->vcpu_spill = spare_beside_overloaded(s, st, cs->home_cpu, allowed);
        cs->vcpu_spill_home = cs->home_cpu;
}

static nodemask_t vm_home_cpu(const struct vm_state *vs)
{
        nodemask_t home = 0;

        for (unsigned c = 0; c < vs->n_cells; c++)
                home |= vs->cells[c].home_cpu;
        return home;
}

/* When a home node's CPUs are overloaded, the emulator threads may also run on allowed nodes with
 * a spare CPU share: there they stop taking CPU from the vCPUs next to their memory. The other
 * remedy, moving a cell away to make room, migrates its memory; the lab's one-busy-cell guest
 * (QEMU's main loop takes a third of a CPU under TCG) moved its idle cell's 192 MiB for it. */
nodemask_t vm_emulator_spill(const struct snapshot *s, const struct policy_state *st,
                             const struct vm_state *vs, nodemask_t allowed)
{
        return spare_beside_overloaded(s, st, vm_home_cpu(vs), allowed);
}

/* The emulator threads (QEMU's main loop, I/O) may run on every node the VM's cells call home:
 * pinned next to one cell they would take CPU from that cell's vCPUs while another home node has
 * room (one busy cell, one idle), and the scheduler balances them within the VM's nodes. Nodes
 * they spilled to stay in the mask while the homes stay: the spill unloads the home, and taking
 * it back would overload it again. */
int vm_emit_emulator_pin(const struct snapshot *s, unsigned vm_index, struct vm_state *vs, nodemask_t spill,
                         struct plan *out)
{
        const struct snap_vm *vm = &s->vms[vm_index];
        nodemask_t home = vm_home_cpu(vs), target = home | spill;
        struct action *a;
        int r;

        if (vm->policy.pin != VM_PIN_VCPUS || home == 0)
                return 0;
        if (vs->emulator_mask && vs->emulator_home == home)
                target |= vs->emulator_mask;
        /* Pinned there already, and not seen running elsewhere since. */
        if (vs->emulator_mask == target &&
            (vm->emulator_node < 0 || NODEMASK_TEST(target, vm->emulator_node)))
                return 0;

        r = plan_add(out, ACTION_PIN_EMULATOR, vm->id, vm_index, -1, &a);
        if (r < 0)
                return r;
        a->cpus = cpus_of(&s->host, target);
        a->node = nodemask_first(target);
        a->node_id = s->host.node[a->node].id;
        a->node_mask = target;
        if (target != home)
                action_set_reason(
                        a, "emulator threads on the VM's home nodes, overloaded, and spare CPUs elsewhere");
        else
                action_set_reason(a, "emulator threads on the VM's home nodes (first node %d)", a->node_id);
        vs->emulator_mask = target;
        vs->emulator_home = home;
        return 1;
}
