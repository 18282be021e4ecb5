/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The kernel's NUMA hinting-fault statistics of one thread, from /proc/PID/task/TID/sched
 * (CONFIG_SCHED_DEBUG + CONFIG_NUMA_BALANCING; format of kernel/sched/debug.c since 5.x):
 *
 *   mm->numa_scan_seq                            :                    3
 *   ...
 *   current_node=0, numa_group_id=4242
 *   numa_faults node=0 task_private=12 task_shared=3 group_private=40 group_shared=9
 *   numa_faults node=1 task_private=0 task_shared=0 group_private=0 group_shared=0
 *
 * One numa_faults line per online node. The values are NOT monotonic counters: they are the
 * kernel's p->numa_faults[NUMA_MEM] entries, which task_numa_placement() decays at most once per
 * scan pass (new = old - old/2 + faults since the last pass), and that pass count is the
 * process-wide mm->numa_scan_seq. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define SCHED_FAULT_NODES_MAX 64

struct sched_node_faults {
        int node; /* kernel node id */
        uint64_t task_private, task_shared;
        uint64_t group_private, group_shared;
};

struct sched_numa_faults {
        bool have_scan_seq;
        uint64_t scan_seq; /* mm->numa_scan_seq */
        unsigned n_nodes;  /* 0: the kernel prints no hinting statistics */
        struct sched_node_faults node[SCHED_FAULT_NODES_MAX];
};

/* Parses the sched text. Lines other than "mm->numa_scan_seq" and "numa_faults" are ignored.
 * -EBADMSG with *ret_line (1-based, if non-NULL) on a malformed numa_faults or scan_seq line, a
 * node listed twice, or a value out of range; -E2BIG past SCHED_FAULT_NODES_MAX nodes. */
int sched_numa_faults_parse(const char *text, struct sched_numa_faults *ret, unsigned *ret_line);

/* Reads PROCFS_ROOT/PID/task/TID/sched. Parse errors as above. */
int sched_numa_faults_read(const char *procfs_root, pid_t pid, pid_t tid, struct sched_numa_faults *ret,
                           unsigned *ret_line);

/* v after the kernel's decay step (v - v/2) applied n times. */
uint64_t sched_faults_decay(uint64_t v, unsigned n);

/* Faults of one counter since the last read, given the decay steps in between: the part of
 * cur the decayed prev does not explain. A cur below that means the counter started over
 * (thread restarted, statistics freed): then all of cur is new. */
uint64_t sched_counter_delta(uint64_t prev, uint64_t cur, unsigned decays);

/* Decay steps between two reads of one thread: 0 when no value changed (no placement ran),
 * else the growth of mm->numa_scan_seq, at least 1 and at most 64. The thread's own pass
 * counter is not printed, so this can overestimate (the thread skipped a pass); that errs
 * toward counting more faults, never toward a false reset. */
unsigned sched_decays_between(const struct sched_numa_faults *prev, const struct sched_numa_faults *cur);

/* Task faults (private + shared) of one thread on each node since prev, by kernel node id:
 * calls fn(node, faults) once per node of cur. prev NULL (first read of this thread) gives 0
 * for every node: there is no baseline to take a period's worth from. */
void sched_faults_delta(const struct sched_numa_faults *prev, const struct sched_numa_faults *cur,
                        void (*fn)(int node, uint64_t faults, void *userdata), void *userdata);
