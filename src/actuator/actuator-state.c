/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the actuator remembers of each VM between applies: the cells a region policy restricts and
 * what was set on the VM's systemd unit. */
#include <errno.h>
#include <stdlib.h>

#include "actuator-state.h"

static void vm_state_done(struct actuator_vm_state *st)
{
        free(st->unit);
        free(st->cell_ids);
        free(st->restricted);
        free(st->nodes);
        *st = (struct actuator_vm_state){};
}

static int vm_state_init(struct actuator_vm_state *st, uint64_t id, const struct guest_model *m)
{
        unsigned n = m->n_cells;

        *st = (struct actuator_vm_state){.id = id, .n_cells = n};
        st->cell_ids = calloc(MAX(n, 1u), sizeof(*st->cell_ids));
        st->restricted = calloc(MAX(n, 1u), sizeof(*st->restricted));
        st->nodes = calloc(MAX(n, 1u), sizeof(*st->nodes));
        if (!st->cell_ids || !st->restricted || !st->nodes) {
                vm_state_done(st);
                return -ENOMEM;
        }
        for (unsigned i = 0; i < n; i++)
                st->cell_ids[i] = m->cells[i].id;
        return 0;
}

struct actuator_vm_state *actuator_vm_state_find(struct actuator *a, uint64_t id)
{
        for (size_t i = 0; i < a->n_vms; i++)
                if (a->vms[i].id == id)
                        return &a->vms[i];
        return NULL;
}

int actuator_vm_state_get(struct actuator *a, uint64_t id, const struct guest_model *m,
                          struct actuator_vm_state **ret)
{
        struct actuator_vm_state *st = actuator_vm_state_find(a, id), fresh;
        int r;

        if (st) {
                bool same = st->n_cells == m->n_cells;

                for (unsigned i = 0; same && i < m->n_cells; i++)
                        same = st->cell_ids[i] == m->cells[i].id;
                if (same) {
                        *ret = st;
                        return 0;
                }
                r = vm_state_init(&fresh, id, m);
                if (r < 0)
                        return r;
                fresh.pid = st->pid;
                fresh.placement = st->placement;
                fresh.unit = TAKE_PTR(st->unit);
                fresh.unit_set = st->unit_set;
                fresh.set_cpus = st->set_cpus;
                fresh.set_mems = st->set_mems;
                fresh.said = st->said;
                vm_state_done(st);
                *st = fresh;
                *ret = st;
                return 0;
        }
        st = reallocarray(a->vms, a->n_vms + 1, sizeof(*a->vms));
        if (!st)
                return -ENOMEM;
        a->vms = st;
        r = vm_state_init(&a->vms[a->n_vms], id, m);
        if (r < 0)
                return r;
        *ret = &a->vms[a->n_vms++];
        return 0;
}

void actuator_vm_state_remove(struct actuator *a, struct actuator_vm_state *st)
{
        vm_state_done(st);
        *st = a->vms[--a->n_vms];
}

void actuator_vm_states_free(struct actuator *a)
{
        for (size_t i = 0; i < a->n_vms; i++)
                vm_state_done(&a->vms[i]);
        free(a->vms);
        a->vms = NULL;
        a->n_vms = 0;
}
