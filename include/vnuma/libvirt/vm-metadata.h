/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Per-VM policy stored in libvirt domain metadata, namespace VM_METADATA_URI, key/prefix
 * VM_METADATA_KEY:
 *
 *   <vnumad:policy xmlns:vnumad="urn:x-vnumad:policy:1" mode="auto" nodes="0-1" pin="vcpus"
 *                  migrate-rate="256MiB">
 *     <vnumad:cell id="0" nodes="1"/>
 *   </vnumad:policy>
 *
 * Every attribute is optional (defaults: vm_policy_init). nodes="" or no nodes means every host
 * node. migrate-rate is bytes per second with binary units (parse_size). The element may carry
 * the namespace (as virDomainGetMetadata returns it) or none (as virsh users type it). */

#include <stdbool.h>

#include "vnuma/basic/idset.h"
#include "vnuma/model/policy-mode.h"

#define VM_METADATA_URI "urn:x-vnumad:policy:1"
#define VM_METADATA_KEY "vnumad"

/* What the policy is checked against. NULL host_nodes or a negative guest_cells skip that check. */
struct vm_metadata_limits {
        const struct idset *host_nodes; /* node ids the host has */
        int guest_cells;                /* guest cells are 0 .. guest_cells-1 */
};

/* Parses and validates. -EINVAL on any problem, with *ret_error (if non-NULL) naming the attribute
 * and value, e.g. `mode="sometimes": unknown mode`, `nodes="0-": invalid node list`,
 * `nodes="7": host has no node 7`, `malformed XML at line 1: ...`. -ENOMEM on allocation failure.
 * libxml2 never prints anything. *ret is written only on success. */
int vm_metadata_parse(const char *xml, const struct vm_metadata_limits *limits, struct vm_policy *ret,
                      char **ret_error);

/* The element for virDomainSetMetadata(VIR_DOMAIN_METADATA_ELEMENT, xml, VM_METADATA_KEY,
 * VM_METADATA_URI): `<policy mode=… …><cell id=… nodes=…/></policy>` without a namespace;
 * libvirt adds it under the key's prefix. Defaults are left out where the parser would restore
 * them (no nodes attribute for "all nodes", no migrate-rate for 0). -EINVAL for a policy the
 * parser would refuse (unknown enum value, too many cells). */
int vm_metadata_format(const struct vm_policy *p, char **ret);
