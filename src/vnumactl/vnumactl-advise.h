/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* vnumactl advise -w VCPUS[:MEM_MB]: numad's pre-placement query, answered by vnumad (or, when it
 * does not run, from one reading of the host), shared with vnumad-numad-shim. */

#include <stdbool.h>
#include <stdint.h>

#define ADVISE_DEFAULT_TIMEOUT_MS 10000

struct advise_opts {
        const char *socket_path;
        const char *sysfs_root;
        const char *procfs_root;
        int timeout_ms;
        bool json; /* one JSON document instead of numad's bare nodeset */
};

/* The system's daemon socket, the real /sys and /proc, the default timeout. */
#define ADVISE_OPTS_DEFAULT                              \
        ((struct advise_opts){                           \
                .socket_path = VNUMAD_SOCKET_PATH,       \
                .sysfs_root = "/sys",                    \
                .procfs_root = "/proc",                  \
                .timeout_ms = ADVISE_DEFAULT_TIMEOUT_MS, \
        })

/* numad's -w argument, "VCPUS[:MEM_MB]": 1-4096 vCPUs, MiB optional (0). -EINVAL otherwise. */
int advise_parse_w(const char *text, unsigned *ret_vcpus, uint64_t *ret_mib);

/* Prints the nodeset ("0", "0-1") and a newline on stdout, or logs why not. Returns the exit
 * status: 0, or 1 (numad's EXIT_FAILURE) with nothing on stdout. */
int advise_run(const struct advise_opts *o, unsigned vcpus, uint64_t mib);

/* Whether the command word of vnumactl's argv (after its global options) is "advise": main()
 * hands such a command line to advise_main before its own option parsing, as -w is advise's. */
bool advise_requested(int argc, char *argv[]);

/* vnumactl [--socket PATH] [--sysfs-root DIR] [--procfs-root DIR] [--timeout MS] advise -w V[:M].
 * Returns the exit status. */
int advise_main(int argc, char *argv[]);
