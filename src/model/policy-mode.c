/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one place where policy-related enums meet their names. */
#include "vnuma/model/policy-mode.h"

#include <errno.h>
#include <string.h>

static const char *const policy_mode_table[_VM_POLICY_MODE_MAX] = {
        [VM_POLICY_AUTO] = "auto",           [VM_POLICY_STRICT] = "strict",
        [VM_POLICY_PREFERRED] = "preferred", [VM_POLICY_INTERLEAVE] = "interleave",
        [VM_POLICY_OBSERVE] = "observe",     [VM_POLICY_OFF] = "off",
};

static const char *const pin_mode_table[_VM_PIN_MODE_MAX] = {
        [VM_PIN_VCPUS] = "vcpus",
        [VM_PIN_NONE] = "none",
};

static const char *const region_policy_table[_REGION_POLICY_MAX] = {
        [REGION_POLICY_DEFAULT] = "default",
        [REGION_POLICY_BIND] = "bind",
        [REGION_POLICY_PREFERRED] = "preferred",
        [REGION_POLICY_INTERLEAVE] = "interleave",
};

static const char *table_to_string(const char *const *table, size_t n, int v)
{
        if (v < 0 || (size_t)v >= n)
                return NULL;
        return table[v];
}

static int table_from_string(const char *const *table, size_t n, const char *s)
{
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (table[i] && streq(table[i], s))
                        return (int)i;
        return -EINVAL;
}

const char *vm_policy_mode_to_string(enum vm_policy_mode m)
{
        return table_to_string(policy_mode_table, ELEMENTSOF(policy_mode_table), m);
}

int vm_policy_mode_from_string(const char *s)
{
        return table_from_string(policy_mode_table, ELEMENTSOF(policy_mode_table), s);
}

const char *vm_pin_mode_to_string(enum vm_pin_mode m)
{
        return table_to_string(pin_mode_table, ELEMENTSOF(pin_mode_table), m);
}

int vm_pin_mode_from_string(const char *s)
{
        return table_from_string(pin_mode_table, ELEMENTSOF(pin_mode_table), s);
}

const char *region_policy_to_string(enum region_policy p)
{
        return table_to_string(region_policy_table, ELEMENTSOF(region_policy_table), p);
}

int region_policy_from_string(const char *s)
{
        return table_from_string(region_policy_table, ELEMENTSOF(region_policy_table), s);
}

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
