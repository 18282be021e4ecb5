/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Parsers for the HMP replies the guest model needs (QEMU 7.2 offers no QMP equivalent). */

#include <stdint.h>

#include "vnuma/basic/idset.h"
#include "vnuma/basic/macro.h"

/* "Host virtual address for 0x100000 (m0) is 0x7f75fbf00000". -ENXIO for "No memory is
 * mapped at address ...", -EBADMSG for anything else. *ret_region is the name in parentheses
 * (caller frees; may be NULL if not wanted). */
int gpa2hva_parse(const char *text, uint64_t *ret_hva, char **ret_region);

struct info_numa_node {
        int id;
        struct idset cpus;
        uint64_t size_bytes; /* includes plugged memory devices */
        uint64_t plugged_bytes;
};

struct info_numa {
        unsigned n_nodes;
        struct info_numa_node *nodes;
};

/* "N nodes" / "node N cpus: 0 1" / "node N size: X MB" / "node N plugged: Y MB". */
int info_numa_parse(const char *text, struct info_numa **ret);
void info_numa_free(struct info_numa *n);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct info_numa *, info_numa_free);
