/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* vnumactl's commands that ask the daemon (vnumactl-daemon.c). */

#include <json-c/json.h>
#include <stdbool.h>

struct daemon_client_opts {
        const char *socket_path;
        int timeout_ms;
        bool json;
        bool dry_run;
};

/* One request to vnumad; failures are logged (the daemon's refusal as -EBADMSG, not a usage
 * error). */
int daemon_call(const struct daemon_client_opts *o, const char *command, struct json_object *args,
                struct json_object **ret);
/* A rebalance document as text. */
void print_rebalance(struct json_object *doc);

/* Runs verb (status, show, rebalance, policy, explain, metrics) against the daemon.
 * -EINVAL for a usage error (already logged). */
int daemon_verb(const struct daemon_client_opts *o, const char *verb, char **args, int n_args);
