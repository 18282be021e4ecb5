/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The sampler object and the state it keeps per VM between periods. Internal to libvnuma.
 * Calls go one way: sampler.c (the entry points) -> sampler-host.c, sampler-sense.c (the
 * readings) -> sampler-issues.c, sampler-vm-state.c, snapshot-build.c. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sampler-hoststat.h"
#include "sampler-sched.h"
#include "sampler-window.h"
#include "vnuma/basic/macro.h"
#include "vnuma/sampler/sampler.h"

struct sampler_vcpu_state {
        pid_t tid; /* baselines belong to this thread; another tid starts over */
        bool have_runtime;
        uint64_t runtime_ns;
        uint64_t wait_ns; /* schedstat run_delay at the last reading */
        bool have_faults;
        struct sched_numa_faults faults;
};

struct sampler_vm_state {
        uint64_t id;
        pid_t pid;
        unsigned n_cells;
        int *cell_ids;          /* guest node id of each map, to notice a changed model */
        struct chunk_map *maps; /* one per cell, in guest_model.cells order */
        unsigned n_vcpus;
        struct sampler_vcpu_state *vcpus; /* in guest_model.vcpus order */
        uint64_t vcpus_read_ns;           /* now_ns() when the vCPUs were last read; 0 unknown */
        bool soft_dirty_cleared;          /* clear_refs ran at the end of an earlier period */
        unsigned scan_interval;           /* periods between two window scans (sampler-settled.h) */
        unsigned scan_age;                /* periods since the last window scan */
};

struct sampler {
        char *procfs_root;
        char *sysfs_root;
        uint64_t window_bytes;
        uint64_t chunk_bytes;
        uint64_t (*now_ns)(void);    /* sampler_config.now_ns */
        uint64_t period_ns;          /* of the sense in progress */
        unsigned flags;              /* SAMPLER_USE_* */
        unsigned fallback_flags;     /* what DAMON falls back to when its kdamond does not start */
        struct sampler_damon *damon; /* SAMPLER_USE_DAMON: the claimed kdamond */

        size_t n_vms;
        struct sampler_vm_state *vms;

        struct cpu_times *cpu_prev; /* /proc/stat of the previous period, by CPU id */
        size_t n_cpu_prev;

        size_t n_issues, alloc_issues;
        struct sampler_issue *issues;
};

/* sampler-issues.c: appends an issue (message printf-style); -ENOMEM if it cannot. */
int sampler_add_issue(struct sampler *s, uint64_t vm_id, enum sampler_issue_kind kind, int error,
                      const char *fmt, ...) _printf_(5, 6);

/* sampler-vm-state.c: the state of a VM, created or brought in line with the model (a new pid
 * resets everything, a changed cell resets that cell's map). */
int sampler_vm_state_get(struct sampler *s, uint64_t id, const struct guest_model *m,
                         struct sampler_vm_state **ret);
struct sampler_vm_state *sampler_find_vm(const struct sampler *s, uint64_t id);
/* Frees what the state holds and leaves it zeroed. */
void sampler_vm_state_done(struct sampler_vm_state *vs);

/* sampler-host.c: this period's host part of the snapshot. */
int sampler_sense_host(struct sampler *s, const struct host_topology *topo, struct snap_host *ret);

/* sampler-sense.c: one VM into sv (allocated by the callee). On failure the issue is recorded
 * and sv may hold partial allocations for snapshot_vm_discard(). */
int sampler_sense_vm(struct sampler *s, const struct host_topology *topo, const struct sampler_vm *in,
                     struct snap_vm *sv);

/* snapshot-build.c: turning sampler readings into snapshot parts. */
int snapshot_build_host(const struct host_topology *topo, const uint64_t *mem_free, const double *cpu_load,
                        struct snap_host *ret);
int snapshot_build_vm_begin(struct snap_vm *sv, const struct sampler_vm *in);
/* Node position of a kernel node id in the topology, -1 if it is not there. */
int snapshot_node_pos(const struct host_topology *topo, int node_id);
/* resident_bytes[] by position and not_present_bytes from a cell's chunk map. */
void snapshot_build_cell_residency(struct snap_cell *sc, const struct chunk_map *m,
                                   const struct host_topology *topo);
/* Frees what the VM slot holds and leaves it as snapshot_new() made it. */
void snapshot_vm_discard(struct snap_vm *sv);
