/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* vnumactl's commands that ask the daemon (vnumactl-daemon.c). */

#include <stdbool.h>

struct daemon_client_opts {
        const char *socket_path;
        int timeout_ms;
        bool json;
        bool dry_run;
};

/* Runs verb (status, show, rebalance, policy, explain, metrics) against the daemon.
 * -EINVAL for a usage error (already logged). */
int daemon_verb(const struct daemon_client_opts *o, const char *verb, char **args, int n_args);
