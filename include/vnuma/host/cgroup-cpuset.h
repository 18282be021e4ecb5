/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Cpuset cgroups that vnumad owns, driven through libcgroup, on cgroup v1 (a "cpuset" hierarchy,
 * as on the build machine and in the lab) or v2 (the unified hierarchy with +cpuset).
 *
 * Paths are relative to the root of the hierarchy that carries the cpuset controller, as
 * /proc/PID/task/TID/cgroup shows them ("/vnumad.slice/vm1"); a leading '/' is optional.
 * libcgroup locates the mount from /proc/self/mounts. The direct actuator uses this for strict
 * region policies; an actuator that leaves cgroups to libvirt simply does not call it. */

#include <stddef.h>
#include <sys/types.h>

#include "vnuma/basic/idset.h"

enum cpuset_version {
        CPUSET_V1 = 1,
        CPUSET_V2 = 2,
};

/* Initialises libcgroup (once per process; its messages go to our debug log) and reports which
 * cgroup version carries the cpuset controller. -EOPNOTSUPP if none does. */
int cpuset_cgroup_probe(enum cpuset_version *ret);

/* A cgroup path of the cpuset hierarchy from the text of /proc/PID/task/TID/cgroup: v1 takes the
 * line whose controller list names "cpuset", v2 the "0::" line. -ENOENT if there is no such
 * line, -EBADMSG if the text is not in that format. */
int cpuset_cgroup_parse_proc(const char *text, enum cpuset_version version, char **ret);
/* The same, read from PROCFS_ROOT/PID/task/TID/cgroup; -ESRCH if the thread is gone. */
int cpuset_cgroup_of_thread(const char *procfs_root, pid_t pid, pid_t tid, enum cpuset_version version,
                            char **ret);

/* Whether a path is one vnumad may create: relative components of [A-Za-z0-9_.@:-], none empty,
 * "." or "..". */
bool cpuset_cgroup_path_is_valid(const char *path);

/* Effective CPUs and memory nodes of an existing cgroup ("" or "/" is the root). Either output may
 * be NULL. */
int cpuset_cgroup_get_effective(const char *path, struct idset *ret_cpus, struct idset *ret_mems);
/* The configured cpuset.mems of an existing cgroup (empty on v2 when it inherits). */
int cpuset_cgroup_get_mems(const char *path, struct idset *ret_mems);

/* Makes path exist with cpuset.mems = mems. Missing levels are created top-down: on v1 each new
 * level gets its parent's effective CPUs and memory nodes (a v1 cpuset starts empty and cannot take
 * tasks), on v2 libcgroup enables +cpuset in the parents' cgroup.subtree_control and CPUs are
 * inherited. An existing cgroup is modified in place; the kernel rejects a bad cpuset.mems as a
 * whole, leaving the old value. ret_created (may be NULL) tells whether the leaf was created by
 * this call; on failure, levels this call created are removed again.
 * Pages already outside the new mems: on v2 (kernel >= 5.15) the kernel migrates them at once, on
 * a mems change and when a process moves in; on v1 memory_migrate stays off, so only new
 * allocations are bound and move_pages moves the rest at the engine's rate. */
int cpuset_cgroup_set_mems(const char *path, const struct idset *mems, bool *ret_created);

/* Moves threads into path: on v1 each tid of tids, on v2 the whole process pid (cgroup.procs; v2
 * keeps a process's threads together in a domain cgroup). Each thread's CPU affinity is kept (the
 * kernel resets it on a cpuset change). On failure every thread moved so far goes back to the
 * cgroup it came from (read just before it moved) and -errno is returned: -ESRCH when a thread is
 * gone. ret_moved (may be NULL) is the number of threads now in path. */
int cpuset_cgroup_enter(const char *procfs_root, const char *path, pid_t pid, const pid_t *tids,
                        size_t n_tids, unsigned *ret_moved);

/* Removes path if no task is in it: -EBUSY if one is, 0 if it does not exist. */
int cpuset_cgroup_remove(const char *path);
