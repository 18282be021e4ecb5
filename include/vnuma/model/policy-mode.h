/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Per-VM policy settings, as the operator writes them in libvirt metadata
 * (<vnumad:policy mode=… nodes=… pin=… migrate-rate=…/> plus optional <cell id= nodes=/>).
 * The enum <-> string tables live in src/model/policy-mode.c and nowhere else. */

#include <stdint.h>

#include "vnuma/basic/idset.h"
#include "vnuma/basic/macro.h"

enum vm_policy_mode {
        VM_POLICY_AUTO,
        VM_POLICY_STRICT,
        VM_POLICY_PREFERRED,
        VM_POLICY_INTERLEAVE,
        VM_POLICY_OBSERVE,
        VM_POLICY_OFF,
        _VM_POLICY_MODE_MAX,
        _VM_POLICY_MODE_INVALID = -EINVAL,
};

enum vm_pin_mode {
        VM_PIN_VCPUS,
        VM_PIN_NONE,
        _VM_PIN_MODE_MAX,
        _VM_PIN_MODE_INVALID = -EINVAL,
};

/* How a memory region (one guest cell's backend) is asked to allocate. */
enum region_policy {
        REGION_POLICY_DEFAULT,
        REGION_POLICY_BIND,
        REGION_POLICY_PREFERRED,
        REGION_POLICY_INTERLEAVE,
        _REGION_POLICY_MAX,
        _REGION_POLICY_INVALID = -EINVAL,
};

/* Operator-named host nodes for one guest cell. */
struct vm_cell_nodes {
        unsigned cell;
        struct idset nodes; /* host node ids */
};

#define VM_POLICY_CELLS_MAX 16

struct vm_policy {
        enum vm_policy_mode mode;
        struct idset nodes; /* host node ids; empty means all nodes */
        enum vm_pin_mode pin;
        uint64_t migrate_rate; /* bytes per second; 0 means the engine default */
        unsigned n_cell_nodes;
        struct vm_cell_nodes cell_nodes[VM_POLICY_CELLS_MAX];
        /* Not a setting: the nodes the VM was started on (libvirt's placement='auto' nodeset),
         * its first home under mode auto. Never written to metadata, not part of equality. */
        struct idset start_nodes;
};

/* mode=auto, all nodes, pin=vcpus, default rate, no per-cell nodes. */
void vm_policy_init(struct vm_policy *p);
/* Same mode, nodes, pin, rate and per-cell nodes (in the same order). */
bool vm_policy_equal(const struct vm_policy *a, const struct vm_policy *b);
/* The per-cell node set the operator named, or NULL. */
const struct idset *vm_policy_cell_nodes(const struct vm_policy *p, unsigned cell);

const char *vm_policy_mode_to_string(enum vm_policy_mode m);
/* Returns the mode, or -EINVAL for an unknown name. */
int vm_policy_mode_from_string(const char *s);
const char *vm_pin_mode_to_string(enum vm_pin_mode m);
int vm_pin_mode_from_string(const char *s);
const char *region_policy_to_string(enum region_policy p);
int region_policy_from_string(const char *s);

/* Modes under which vnumad may change anything at all. */
static inline bool vm_policy_mode_acts(enum vm_policy_mode m)
{
        return m != VM_POLICY_OBSERVE && m != VM_POLICY_OFF;
}
