/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Learning plain-QEMU sockets off the event loop (qmp-prober.c). A QEMU may answer slowly on
 * purpose; its query's time budget is then spent on a worker thread, never by a period or a
 * control client. One batch runs at a time; its results come back on the event loop. */

#include <stdbool.h>
#include <stddef.h>

#include "vnuma/daemon/vm-manager.h"

struct qmp_prober;

/* Called on the event loop with the batch's results, in the order the paths were given; the
 * callee may take what it wants out of them (the prober frees the rest). */
typedef void (*qmp_prober_done_cb)(struct qmp_probe *probes, size_t n, void *userdata);

int qmp_prober_new(const char *procfs_root, qmp_prober_done_cb done, void *userdata,
                   struct qmp_prober **ret);
/* Waits for a running batch, which ends after the socket it is on: at most one time budget. */
void qmp_prober_free(struct qmp_prober *p);
/* Starts a batch over paths (taken, with the array, in any case). -EBUSY while one runs. */
int qmp_prober_start(struct qmp_prober *p, char **paths, size_t n, int timeout_ms);
bool qmp_prober_busy(const struct qmp_prober *p);
