/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Pins through libvirt, so libvirt's own view (virsh vcpupin, the live XML, the vcpuN cgroups)
 * stays consistent with what vnumad did:
 *   ACTION_PIN_VCPUS     virDomainPinVcpuFlags(VIR_DOMAIN_AFFECT_LIVE) per vCPU
 *   ACTION_PIN_EMULATOR  virDomainPinEmulator, then virDomainPinIOThread for every IOThread
 *   ACTION_SET_HOME      bookkeeping, 0
 *   ACTION_MIGRATE, ACTION_SET_REGION_POLICY  -EOPNOTSUPP: use the direct actuator.
 * libvirt has no live per-cell memory API: numatune <memnode> cannot change while the domain runs,
 * and a live <memory> nodeset change applies to the whole domain (only in restrictive mode) and
 * migrates synchronously. So memory stays with move_pages(2) in the direct actuator.
 *
 * Result conventions are those of actuator_apply (include/vnuma/actuator/actuator.h): 0 done, -errno with
 * nothing changed (a failed vCPU pin puts the vCPUs already re-pinned back), result->threads_pinned
 * counts the vCPUs or threads whose pin changed. */

#include <libvirt/libvirt.h>

#include "vnuma/actuator/actuator.h"
#include "vnuma/model/guest.h"
#include "vnuma/model/plan.h"

/* model may be NULL; when given, every vCPU of a vCPU pin must be in it (-ENOENT otherwise).
 * *ret_error (if non-NULL) gets libvirt's message on failure. */
int libvirt_actuator_apply(virDomainPtr dom, const struct action *act, const struct guest_model *model,
                           struct actuator_result *result, char **ret_error);
