/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Configuration of the nested guest's workload. It comes from the guest kernel's command
 * line (words "vnw.KEY=VALUE"), so one initramfs serves every scenario. */

#include <stdbool.h>
#include <stdint.h>

#include "vnuma/basic/idset.h"

enum workload_pattern {
        WORKLOAD_STREAM, /* every cache line of the buffer, in order */
        WORKLOAD_RANDOM, /* random cache lines of the whole buffer */
        WORKLOAD_HOT,    /* random cache lines of the first hot_percent of the buffer */
};

enum workload_alloc {
        WORKLOAD_FIRST_TOUCH, /* pin first, then write every page */
        WORKLOAD_MBIND,       /* mbind(MPOL_BIND) to the thread's node before touching */
};

struct workload_config {
        uint64_t size_per_node; /* bytes, split over the node's threads */
        enum workload_pattern pattern;
        unsigned hot_percent; /* 1-100, used by WORKLOAD_HOT */
        enum workload_alloc alloc;
        unsigned interval_ms; /* progress report period */
        unsigned duration_s;  /* 0: run until killed */
        struct idset nodes;   /* guest nodes to load; empty: every node with CPUs */
        unsigned phase_s;     /* 0: no phase change; else after this many seconds the busy
                               * nodes become the nodes with CPUs that are not in `nodes` */
};

void workload_config_init(struct workload_config *c);

/* Sets one key (without the "vnw." prefix). -EINVAL for an unknown key or a bad value,
 * -ERANGE for a value out of range. c is unchanged on failure. */
int workload_config_set(struct workload_config *c, const char *key, const char *value);

/* Applies every "vnw.KEY=VALUE" word of a kernel command line and ignores the others. On
 * failure returns the error of the first bad word and, if bad_word is non-NULL, a copy of
 * that word in *bad_word (caller frees; set only on failure, to name it). */
int workload_config_parse_cmdline(struct workload_config *c, const char *cmdline, char **bad_word);

const char *workload_pattern_to_string(enum workload_pattern p);
const char *workload_alloc_to_string(enum workload_alloc a);
