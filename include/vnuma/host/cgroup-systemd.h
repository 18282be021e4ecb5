/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A unit's AllowedCPUs= and AllowedMemoryNodes=, through systemd's D-Bus API (sd-bus, the system
 * bus): the way to confine a QEMU that systemd (or Proxmox, or systemd-run) started, without
 * taking it out of its unit. Properties are set at runtime only (SetUnitProperties with
 * runtime=true: a drop-in under /run that a reboot forgets). Each call opens the bus, waits at
 * most CGROUP_SYSTEMD_TIMEOUT_US for systemd and closes it: region policies change rarely.
 *
 * Errors: -errno, with systemd's message in *ret_error (may be NULL) when it gave one. -ENOENT
 * when the unit is not loaded, and, from the connect, -ENOENT/-ECONNREFUSED/-EACCES when there is
 * no system bus or systemd on it. */

#include "vnuma/basic/idset.h"

#define CGROUP_SYSTEMD_TIMEOUT_US (2 * 1000 * 1000)

/* Sets both properties at once; an empty set writes an empty mask, which lifts that
 * restriction (the unit's cgroup gets its parent's CPUs or nodes again). */
int systemd_unit_set_allowed(const char *unit, const struct idset *cpus, const struct idset *mems,
                             char **ret_error);

/* The unit's current values (empty: no restriction). */
int systemd_unit_get_allowed(const char *unit, struct idset *ret_cpus, struct idset *ret_mems,
                             char **ret_error);
