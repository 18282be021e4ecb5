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
#include <sys/types.h>

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

/* Where libvirt's system QEMU driver keeps each running domain's pid file, NAME.pid. */
#define LIBVIRT_QEMU_RUN_DIR "/run/libvirt/qemu"

/* The pid of the QEMU libvirt started for dom. libvirt's API has no call that returns it
 * (virDomainGetInfo, virDomainGetControlInfo and the stats do not), so it is read from the pid file
 * libvirtd itself writes, in the forked child before it executes QEMU, as RUN_DIR/NAME.pid:
 * QEMU never writes it, and the directory belongs to root. The file must be a regular file owned
 * by root. -ENOENT without one (a domain of another driver or URI), -EPERM if it is not root's,
 * -EBADMSG if it holds no pid; *ret_error (if non-NULL) says which. */
int libvirt_qmp_domain_pid(virDomainPtr dom, const char *run_dir, pid_t *ret, char **ret_error);
