/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Where a thread runs: /proc/PID/task/TID/{stat,status,schedstat}, below a settable procfs root. */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vnuma/basic/idset.h"

struct task_placement {
        int last_cpu;          /* stat field 39, "processor" */
        struct idset affinity; /* status Cpus_allowed_list */
        uint64_t runtime_ns;   /* schedstat first field; 0 if schedstat is absent */
        uint64_t wait_ns;      /* schedstat second field (run_delay): runnable, waiting for a CPU */
        char comm[64];
};

/* stat: comm is between the first '(' and the LAST ')' (it may contain spaces and parens);
 * fields are counted after it. -EBADMSG on malformed text. */
int proc_stat_parse(const char *text, int *ret_last_cpu, char *ret_comm, size_t comm_size);
/* status: Tgid and Cpus_allowed_list. */
int proc_status_parse(const char *text, pid_t *ret_tgid, struct idset *ret_affinity);

int proc_task_placement_read(const char *procfs_root, pid_t pid, pid_t tid, struct task_placement *ret);
/* Thread group of any thread id (threads are visible as /proc/TID even when not listed). */
int proc_tgid_of(const char *procfs_root, pid_t tid, pid_t *ret);
/* 0 if tid is a thread of process pid (PROCFS/PID/task/TID exists), -ENOENT if not. */
int proc_task_exists(const char *procfs_root, pid_t pid, pid_t tid);
/* Sorted thread ids of a process. */
int proc_task_list(const char *procfs_root, pid_t pid, pid_t **ret, size_t *ret_n);
