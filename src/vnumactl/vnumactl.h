/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* vnumactl's daemon commands (vnumactl-daemon.c). */

#include <json-c/json.h>
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

/* Shared with the local verbs. */
void print_doc(struct json_object *doc);
void print_show_tables(struct json_object *doc);

/* vnumactl policy get|set|clear (vnumactl-policy.c), through libvirt. */
struct policy_opts {
        const char *uri; /* NULL: $LIBVIRT_DEFAULT_URI, else qemu:///system */
        const char *sysfs_root;
        bool config, live;
        bool json;
};

/* -EINVAL for a usage error (logged). *ret_not_libvirt: `get` found no libvirt or no such domain
 * (nothing logged): the caller asks the daemon instead. */
int policy_verb(const struct policy_opts *o, char **args, int n_args, bool *ret_not_libvirt);
