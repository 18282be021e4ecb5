/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* QMP through libvirt: a command-level transport for the ordinary qmp_client over
 * virDomainQemuMonitorCommand (libvirt-qemu), so a libvirt-managed QEMU is queried without
 * touching its monitor socket, which libvirt owns.
 *
 * Read-only queries only. libvirt marks a domain "custom-monitor" (tainted) the first time a
 * command goes through, and anything that changes QEMU's state behind libvirt's back would make
 * libvirt's view of the domain wrong. The transport refuses everything else with -EPERM before it
 * reaches libvirt. Allowed: query-*, qom-list, qom-get, and human-monitor-command whose
 * command-line is "info ..." or "gpa2hva ...". Commands must not carry an "id": libvirt adds its
 * own and refuses one that has it. */

#include <libvirt/libvirt.h>

struct qmp_client;

/* 0 if command_json (one QMP command object) may be sent; -EPERM if it is not a read-only query,
 * -EINVAL if it is not a command object or carries an "id". *ret_reason (if non-NULL) gets a
 * message on failure. */
int libvirt_qmp_command_allowed(const char *command_json, char **ret_reason);

/* A qmp_client whose commands go through virDomainQemuMonitorCommand(dom, ..., 0). Takes its own
 * reference on dom (virDomainRef); the client drops it when freed. The client's timeout is not
 * enforced here: libvirt applies its own monitor timeout. Errors from libvirt map through
 * libvirt_error_to_errno (-EINVAL for a domain that is not running). */
int libvirt_qmp_open(virDomainPtr dom, struct qmp_client **ret);
