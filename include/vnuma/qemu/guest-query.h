/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Builds the guest model of one QEMU over QMP, cross-checked against /proc/PID. */

#include "vnuma/model/guest.h"

struct qmp_client;

/* All of the query's QMP round trips together get the client's timeout as one time budget
 * (qmp_client_set_budget); what QEMU lists (vCPUs, cells, backends, ranges, lines) is capped and
 * a query over a cap fails with -E2BIG.
 * On failure *ret_error (if non-NULL) gets a message naming the command or file and the
 * problem, e.g. "query-cpus-fast: element 1: missing integer \"thread-id\"". */
int guest_model_query(struct qmp_client *qmp, const char *procfs_root, struct guest_model **ret,
                      char **ret_error);
