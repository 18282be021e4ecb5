/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* vnumactl's live views (vnumactl-live.c: top; vnumactl-live-wait.c: wait, rebalance --wait). Each asks vnumad's
 * status at every step: what they show is what vnumad measured in its last period. */

#include "vnumactl-daemon.h"

struct live_opts {
        const struct daemon_client_opts *daemon;
        double delay_s;      /* top: between refreshes */
        unsigned iterations; /* top: refreshes, 0 until q or a signal */
        const char *sort;    /* top: a key of live_sort_keys */
        double locality;     /* wait: the target, 0..1 */
        double timeout_s;    /* wait, rebalance --wait: 0 for no limit */
};

/* "locality off-home rate wait name" */
extern const char live_sort_keys[];
bool live_sort_key_valid(const char *key);

/* 0 on success; -EINVAL for a usage error, -ETIME when the timeout passed first, other -errno
 * on failure (all logged). */
int live_top(const struct live_opts *o, char **args, int n_args);
int live_wait(const struct live_opts *o, char **args, int n_args);
int live_rebalance_wait(const struct live_opts *o, char **args, int n_args);
