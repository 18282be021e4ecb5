/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one place where policy-related enums meet their names. */
#include "vnuma/model/policy-mode.h"

#include <errno.h>
#include <string.h>

#include "vnuma/basic/string-table.h"

static const char *const vm_policy_mode_table[_VM_POLICY_MODE_MAX] = {
        [VM_POLICY_AUTO] = "auto",           [VM_POLICY_STRICT] = "strict",
        [VM_POLICY_PREFERRED] = "preferred", [VM_POLICY_INTERLEAVE] = "interleave",
        [VM_POLICY_OBSERVE] = "observe",     [VM_POLICY_OFF] = "off",
};

static const char *const vm_pin_mode_table[_VM_PIN_MODE_MAX] = {
        [VM_PIN_VCPUS] = "vcpus",
        [VM_PIN_NONE] = "none",
};

static const char *const region_policy_table[_REGION_POLICY_MAX] = {
        [REGION_POLICY_DEFAULT] = "default",
        [REGION_POLICY_BIND] = "bind",
        [REGION_POLICY_PREFERRED] = "preferred",
        [REGION_POLICY_INTERLEAVE] = "interleave",
};

DEFINE_STRING_TABLE_LOOKUP(vm_policy_mode, enum vm_policy_mode);
DEFINE_STRING_TABLE_LOOKUP(vm_pin_mode, enum vm_pin_mode);
DEFINE_STRING_TABLE_LOOKUP(region_policy, enum region_policy);

void vm_policy_init(struct vm_policy *p)
{
        *p = (struct vm_policy){
                .mode = VM_POLICY_AUTO,
                .nodes = IDSET_EMPTY,
                .pin = VM_PIN_VCPUS,
        };
}

bool vm_policy_equal(const struct vm_policy *a, const struct vm_policy *b)
{
        if (a->mode != b->mode || a->pin != b->pin || a->migrate_rate != b->migrate_rate ||
            a->n_cell_nodes != b->n_cell_nodes || !idset_equal(&a->nodes, &b->nodes))
                return false;
        for (unsigned i = 0; i < a->n_cell_nodes && i < VM_POLICY_CELLS_MAX; i++)
                if (a->cell_nodes[i].cell != b->cell_nodes[i].cell ||
                    !idset_equal(&a->cell_nodes[i].nodes, &b->cell_nodes[i].nodes))
                        return false;
        return true;
}

const struct idset *vm_policy_cell_nodes(const struct vm_policy *p, unsigned cell)
{
        for (unsigned i = 0; i < p->n_cell_nodes && i < VM_POLICY_CELLS_MAX; i++)
                if (p->cell_nodes[i].cell == cell && !idset_is_empty(&p->cell_nodes[i].nodes))
                        return &p->cell_nodes[i].nodes;
        return NULL;
}
