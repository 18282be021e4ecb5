/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* vnumactl policy get|set|clear (vnumactl-policy.c), through libvirt; in vnumactl itself, a hand-over
 * to vnumactl-libvirt (vnumactl-policy-exec.c), which has it. */

#include <stdbool.h>

struct policy_opts {
        const char *uri; /* NULL: $LIBVIRT_DEFAULT_URI, else qemu:///system */
        const char *sysfs_root;
        bool config, live;
        bool json;
        /* The command line: the vnumactl built without libvirt hands it to vnumactl-libvirt
         * (vnumactl-policy-exec.c). */
        char **argv;
};

/* -EINVAL for a usage error (logged). *ret_not_libvirt: `get` found no libvirt or no such domain
 * (nothing logged): the caller asks the daemon instead. */
int policy_verb(const struct policy_opts *o, char **args, int n_args, bool *ret_not_libvirt);
