/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vCPU and emulator pinning toward a cell's home: first touch then lands locally too. */
#include "policy-internal.h"

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
        struct idset vcpus = IDSET_EMPTY;
        bool stray = false;
        struct action *a;
        int r;

        if (vm->policy.pin != VM_PIN_VCPUS || cs->home_cpu == 0 || cs->n_vcpus == 0)
                return 0;
        /* From the period's per-cell summary: no walk over the vCPUs unless a pin is due. */
        stray = (cs->vcpu_nodes & ~cs->home_cpu) != 0;
        if (!stray && cs->pinned == cs->home_cpu)
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
        a->cpus = cpus_of(&s->host, cs->home_cpu);
        a->node = nodemask_first(cs->home_cpu);
        a->node_id = s->host.node[a->node].id;
        a->node_mask = cs->home_cpu;
        action_set_reason(a, "cell %u vCPUs follow its home (node %d)", cell, a->node_id);
        cs->pinned = cs->home_cpu;
        return 1;
}

/* The emulator threads (QEMU's main loop, I/O) may run on every node the VM's cells call home:
 * pinned next to one cell they would take CPU from that cell's vCPUs while another home node has
 * room (one busy cell, one idle), and the scheduler balances them within the VM's nodes. */
int vm_emit_emulator_pin(const struct snapshot *s, unsigned vm_index, struct vm_state *vs, struct plan *out)
{
        const struct snap_vm *vm = &s->vms[vm_index];
        nodemask_t target = 0;
        struct action *a;
        int r;

        if (vm->policy.pin != VM_PIN_VCPUS)
                return 0;
        for (unsigned c = 0; c < vs->n_cells; c++)
                target |= vs->cells[c].home_cpu;
        if (target == 0)
                return 0;
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
        action_set_reason(a, "emulator threads on the VM's home nodes (first node %d)", a->node_id);
        vs->emulator_mask = target;
        return 1;
}
