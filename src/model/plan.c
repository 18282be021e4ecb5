/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The plan: a growable list of actions, each with its reason. */
#include "vnuma/model/plan.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "vnuma/basic/string-table.h"

static const char *const action_type_table[_ACTION_TYPE_MAX] = {
        [ACTION_PIN_VCPUS] = "pin-vcpus",
        [ACTION_PIN_EMULATOR] = "pin-emulator",
        [ACTION_MIGRATE] = "migrate",
        [ACTION_SET_HOME] = "set-home",
        [ACTION_SET_REGION_POLICY] = "set-region-policy",
};

DEFINE_STRING_TABLE_LOOKUP(action_type, enum action_type);

void plan_init(struct plan *p)
{
        *p = (struct plan){};
}

void plan_reset(struct plan *p)
{
        p->n_actions = 0;
}

void plan_done(struct plan *p)
{
        if (!p)
                return;
        free(p->actions);
        *p = (struct plan){};
}

int plan_add(struct plan *p, enum action_type type, uint64_t vm_id, unsigned vm_index, int cell,
             struct action **ret)
{
        struct action *a;

        if (type < 0 || type >= _ACTION_TYPE_MAX)
                return -EINVAL;
        if (p->n_actions == p->allocated) {
                size_t n = p->allocated ? p->allocated * 2 : 64;
                struct action *m = realloc(p->actions, n * sizeof(*m));
                if (!m)
                        return -ENOMEM;
                p->actions = m;
                p->allocated = n;
        }
        a = &p->actions[p->n_actions++];
        *a = (struct action){
                .type = type,
                .vm_id = vm_id,
                .vm_index = vm_index,
                .cell = cell,
                .node = -1,
                .node_id = -1,
                .from_node = -1,
        };
        *ret = a;
        return 0;
}

void action_set_reason(struct action *a, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        (void)vsnprintf(a->reason, sizeof(a->reason), fmt, ap);
        va_end(ap);
}

int action_format(const struct action *a, char *buf, size_t size)
{
        char set[64] = "";
        int n;

        switch (a->type) {
        case ACTION_PIN_VCPUS:
        case ACTION_PIN_EMULATOR:
                if (idset_format(&a->cpus, set, sizeof(set)) < 0)
                        (void)snprintf(set, sizeof(set), "…");
                n = snprintf(buf, size, "vm %" PRIu64 " cell %d: %s -> cpus %s (node pos %d): %s", a->vm_id,
                             a->cell, action_type_to_string(a->type), set, a->node, a->reason);
                break;
        case ACTION_MIGRATE:
                n = snprintf(buf, size,
                             "vm %" PRIu64 " cell %d: migrate %" PRIu64 " bytes at +%" PRIu64
                             " node pos %d -> %d (prio %" PRIu32 "): %s",
                             a->vm_id, a->cell, a->bytes, a->offset, a->from_node, a->node, a->priority,
                             a->reason);
                break;
        case ACTION_SET_HOME:
                n = snprintf(buf, size, "vm %" PRIu64 " cell %d: home node pos %d (mask 0x%" PRIx32 "): %s",
                             a->vm_id, a->cell, a->node, a->node_mask, a->reason);
                break;
        case ACTION_SET_REGION_POLICY:
                n = snprintf(buf, size, "vm %" PRIu64 " cell %d: region policy %s mask 0x%" PRIx32 ": %s",
                             a->vm_id, a->cell, strna(region_policy_to_string(a->region_policy)),
                             a->node_mask, a->reason);
                break;
        default:
                return -EINVAL;
        }
        if (n < 0)
                return -EIO;
        if ((size_t)n >= size)
                return -ENOBUFS;
        return 0;
}

uint64_t plan_migrate_bytes(const struct plan *p)
{
        uint64_t sum = 0;
        for (size_t i = 0; i < p->n_actions; i++)
                if (p->actions[i].type == ACTION_MIGRATE)
                        sum += p->actions[i].bytes;
        return sum;
}

uint64_t plan_migrate_bytes_vm(const struct plan *p, uint64_t vm_id)
{
        uint64_t sum = 0;
        for (size_t i = 0; i < p->n_actions; i++)
                if (p->actions[i].type == ACTION_MIGRATE && p->actions[i].vm_id == vm_id)
                        sum += p->actions[i].bytes;
        return sum;
}
