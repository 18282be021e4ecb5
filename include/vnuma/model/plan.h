/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A plan: what a policy wants done this period, as a list of actions. Each action names the VM by
 * id (stable) and by its index in the snapshot the plan was made from, and carries a reason that
 * `--dry-run` and `vnumactl explain` print verbatim. */

#include <stdint.h>

#include "vnuma/basic/idset.h"
#include "vnuma/basic/macro.h"
#include "vnuma/model/policy-mode.h"

enum action_type {
        ACTION_PIN_VCPUS,         /* vcpus -> cpus of node (or of node_mask) */
        ACTION_PIN_EMULATOR,      /* emulator/iothreads -> cpus */
        ACTION_MIGRATE,           /* bytes [offset, offset+bytes) of cell from from_node to node */
        ACTION_SET_HOME,          /* a cell's home node(s) changed */
        ACTION_SET_REGION_POLICY, /* a cell's memory region policy (bind/preferred/interleave) */
        _ACTION_TYPE_MAX,
        _ACTION_TYPE_INVALID = -EINVAL,
};

#define ACTION_REASON_MAX 96

struct action {
        enum action_type type;
        uint64_t vm_id;
        unsigned vm_index;  /* index into the snapshot's vms */
        int cell;           /* guest cell, -1 for whole-VM actions (emulator) */
        int node;           /* target node position (pin, home, migrate destination) */
        int node_id;        /* the same node as a kernel id */
        uint32_t node_mask; /* target node positions when several (spread cells, strict sets) */
        int from_node;      /* migrate: source position */
        struct idset vcpus; /* pin vcpus: vCPU indexes */
        struct idset cpus;  /* pin vcpus/emulator: host CPU ids */
        uint64_t offset;    /* migrate: first byte within the cell */
        uint64_t bytes;     /* migrate: how many bytes */
        uint32_t priority;  /* migrate: higher goes first (hotness) */
        enum region_policy region_policy;
        char reason[ACTION_REASON_MAX];
};

struct plan {
        size_t n_actions;
        size_t allocated;
        struct action *actions;
};

void plan_init(struct plan *p);
/* Empties the plan and keeps its memory for the next period. */
void plan_reset(struct plan *p);
void plan_done(struct plan *p);
/* Appends a zeroed action of the given type for a VM and returns it through ret. */
int plan_add(struct plan *p, enum action_type type, uint64_t vm_id, unsigned vm_index, int cell,
             struct action **ret);
/* printf into a->reason, truncating. */
void action_set_reason(struct action *a, const char *fmt, ...) _printf_(2, 3);
/* One line describing the action, for dry-run output and history. */
int action_format(const struct action *a, char *buf, size_t size);

const char *action_type_to_string(enum action_type t);
int action_type_from_string(const char *s);

/* Totals used by budget checks. */
uint64_t plan_migrate_bytes(const struct plan *p);
uint64_t plan_migrate_bytes_vm(const struct plan *p, uint64_t vm_id);
