/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The systemd unit a process runs in, from its /proc/PID/cgroup, and the values of the unit's
 * AllowedCPUs=/AllowedMemoryNodes= properties. No D-Bus here (cgroup-systemd.h does the calls):
 * this is what can be read from files and checked without systemd.
 *
 * vnumad never creates a cgroup nor moves a process between cgroups: a QEMU stays in the unit
 * systemd, Proxmox or systemd-run put it in, with that unit's limits. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vnuma/basic/idset.h"

/* Bytes of an "ay" CPU or node mask (systemd's cpu_set_to_dbus format) of an idset. */
#define CGROUP_UNIT_MASK_MAX (IDSET_MAX / 8)

/* Whether name is a unit vnumad may set properties on: a systemd unit name (at most 255 of
 * [A-Za-z0-9:_.@\\-], not starting with '.') ending in ".scope" or ".service". */
bool cgroup_unit_name_is_valid(const char *name);

/* The unit of a process from the text of /proc/PID/cgroup: the last component ending in .scope or
 * .service of the path systemd manages (the "name=systemd" line of a v1 or hybrid hierarchy, else
 * the v2 "0::" line). ret_unit_path (may be NULL) is that path up to and including the unit
 * ("/machine.slice/vm1.scope"), as seen from the hierarchy's root. -ENOENT if the process is in no
 * such unit (the root cgroup, or a cgroup someone made by hand), -EBADMSG if the text is not in
 * /proc/PID/cgroup's format. */
int cgroup_unit_parse_proc(const char *text, char **ret_unit, char **ret_unit_path);
/* The same, read from PROCFS_ROOT/PID/cgroup; -ESRCH if the process is gone. */
int cgroup_unit_of_pid(const char *procfs_root, pid_t pid, char **ret_unit, char **ret_unit_path);

/* Whether pid is the only process in the unit's cgroup and below it: cgroup.procs under
 * SYSFS_ROOT/fs/cgroup/systemd (v1, hybrid), SYSFS_ROOT/fs/cgroup/unified (hybrid) or
 * SYSFS_ROOT/fs/cgroup (v2), whichever holds unit_path. A unit shared with other processes (a
 * login session's scope, say) must not be confined for one VM. 1 if alone, 0 if not, -errno if
 * the cgroup cannot be read (-ENOENT: in none of those mounts). */
int cgroup_unit_sole_process(const char *sysfs_root, const char *unit_path, pid_t pid);

/* An idset as an "ay" mask: bit j of byte i is id 8i+j, trailing zero bytes dropped, so the empty
 * set is zero bytes ("no restriction" to systemd). buf holds CGROUP_UNIT_MASK_MAX bytes; returns
 * the length. */
size_t cgroup_unit_mask_from_idset(const struct idset *s, uint8_t *buf);
/* The reverse; -ERANGE if a bit is set past IDSET_MAX. */
int cgroup_unit_mask_to_idset(const uint8_t *mask, size_t n, struct idset *ret);
