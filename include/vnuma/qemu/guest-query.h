/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Builds the guest model of one QEMU over QMP, cross-checked against /proc/PID. */

#include "vnuma/model/guest.h"

struct qmp_client;

/* On failure *ret_error (if non-NULL) gets a message naming the command or file and the
 * problem, e.g. "query-cpus-fast: element 1: missing integer \"thread-id\"". */
int guest_model_query(struct qmp_client *qmp, const char *procfs_root, struct guest_model **ret,
                      char **ret_error);
