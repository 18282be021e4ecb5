/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Who a VM is and which process it is, decided by what QEMU cannot forge.
 *
 * The name: the QMP socket's file name (without ".sock" or ".qmp") or the libvirt domain name. It
 * selects the [vm NAME] policy, names the metrics and the logs. QEMU's own -name (query-name) is
 * only shown, sanitised and cut (string-sanitize.h).
 *
 * The process: the pid that serves the QMP socket (SO_PEERCRED) or the one libvirt started for the
 * domain. Every vCPU thread QEMU names must be a thread of that process. */

#include <sys/types.h>

struct qmp_client;

/* The longest VM name; longer ones are cut (and then may collide, which is refused). */
#define VM_IDENTITY_MAX 128

/* "/run/vm/web1.qmp" -> "web1"; non-printable bytes become '?'. */
int vm_identity_from_socket(const char *path, char **ret);
/* A libvirt domain name, sanitised the same way. */
int vm_identity_from_domain(const char *name, char **ret);

/* Asks query-cpus-fast and checks that each vCPU thread id is a task of pid
 * (PROCFS/PID/task/TID). -EPERM with *ret_error naming the thread and the process otherwise. */
int vm_identity_check_threads(struct qmp_client *qmp, const char *procfs_root, pid_t pid, char **ret_error);
