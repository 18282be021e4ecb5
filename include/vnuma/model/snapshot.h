/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The snapshot: everything a policy may look at for one period, immutable once built.
 * It is shaped after what the real samplers deliver (sysfs/libnuma for the host, QMP + /proc
 * for vCPUs, move_pages windows or hinting faults for memory), so the simulator and the
 * daemon feed the very same policy code.
 *
 * Host nodes are indexed by POSITION (0..n_nodes-1) everywhere inside the model; the kernel
 * node id, which may be sparse, is kept in snap_node.id and used only when talking to the
 * outside (actions carry both). */

#include <stdbool.h>
#include <stdint.h>

#include "vnuma/basic/idset.h"
#include "vnuma/basic/macro.h"
#include "vnuma/model/policy-mode.h"

#define SNAP_NODES_MAX 32

/* A bitmask of node positions; cheap to copy and test inside planning loops. */
typedef uint32_t nodemask_t;
#define NODEMASK_BIT(pos)        ((nodemask_t)1u << (pos))
#define NODEMASK_TEST(mask, pos) (((mask) >> (pos)) & 1u)

struct snap_node {
        int id;            /* kernel node id */
        struct idset cpus; /* host CPU ids; empty for a CPU-less memory node */
        unsigned n_cpus;
        uint64_t mem_total_bytes;
        uint64_t mem_free_bytes;
        double cpu_load; /* busy CPUs over the last period, 0..n_cpus (and above) */
};

struct snap_host {
        unsigned n_nodes;
        struct snap_node node[SNAP_NODES_MAX];
        uint16_t distance[SNAP_NODES_MAX][SNAP_NODES_MAX]; /* by position; 10 = local */
};

/* One observed piece of guest memory from this period's scan window. */
struct snap_chunk {
        uint64_t offset; /* bytes from the start of the cell's memory */
        uint64_t bytes;
        int node;         /* host node position, -1 when not present */
        uint32_t hotness; /* accesses (or dirty/referenced evidence) seen this period */
};

struct snap_vcpu {
        unsigned index;      /* vCPU index as QEMU numbers it */
        unsigned cell;       /* guest node it belongs to */
        int node;            /* host node position it last ran on, -1 unknown */
        uint64_t runtime_ns; /* runtime during this period */
        uint64_t wait_ns;    /* time it was runnable and waited for a CPU (schedstat run_delay) */
};

struct snap_cell {
        unsigned id; /* guest node id */
        uint64_t size_bytes;
        uint64_t chunk_bytes;                    /* granularity of chunk offsets */
        uint64_t resident_bytes[SNAP_NODES_MAX]; /* per host node position */
        uint64_t not_present_bytes;
        /* Hot-page evidence for this period: accesses made by THIS cell's vCPUs to memory on
         * each host node (hinting faults, or sampled hotness). The kernel's task_numa_fault. */
        uint64_t access[SNAP_NODES_MAX];
        uint64_t cpu_ns[SNAP_NODES_MAX]; /* runtime of this cell's vCPUs per node */
        unsigned n_chunks;               /* this period's window */
        const struct snap_chunk *chunks;
};

struct snap_vm {
        uint64_t id; /* stable across periods (libvirt domain id or sim id) */
        char name[64];
        struct vm_policy policy;
        int emulator_node; /* host node position the emulator threads last ran on, -1 unknown */
        /* Some vCPU thread was read for the first time (the VM is new, or QEMU reported the
         * thread late): its run and wait times cover no period yet, so its demand reads 0 and
         * the CPU it took counts as host work. */
        bool cpu_unmeasured;
        unsigned n_cells;
        struct snap_cell *cells;
        unsigned n_vcpus;
        struct snap_vcpu *vcpus;
};

struct snapshot {
        uint64_t period;    /* sequence number */
        uint64_t period_ns; /* length of the period the statistics cover */
        struct snap_host host;
        unsigned n_vms;
        struct snap_vm *vms;
};

/* Allocation helpers for the producers (samplers, simulator, tests). The snapshot owns every
 * array hanging off it, including each cell's chunk window. */
int snapshot_new(unsigned n_vms, struct snapshot **ret);
int snapshot_vm_alloc(struct snap_vm *vm, unsigned n_cells, unsigned n_vcpus);
/* Gives cell a window of n_chunks zeroed chunks, returned writable through ret. */
int snapshot_cell_alloc_chunks(struct snap_cell *cell, unsigned n_chunks, struct snap_chunk **ret);
struct snapshot *snapshot_free(struct snapshot *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct snapshot *, snapshot_free);

/* Queries shared by policies, baselines and the simulator. */
uint64_t snap_cell_present_bytes(const struct snap_cell *c);
/* Bytes of the cell resident on the nodes of mask. */
uint64_t snap_cell_bytes_on(const struct snap_cell *c, unsigned n_nodes, nodemask_t mask);
uint64_t snap_vm_size_bytes(const struct snap_vm *vm);
/* A vCPU's demand over the period, in CPUs: what it would run if it could, (runtime + wait) /
 * period (perf-model.h), at most 1: a thread runs on one CPU at a time, and readings a little
 * apart must not make it seem to run more. */
double snap_vcpu_demand(const struct snapshot *s, const struct snap_vcpu *v);
/* The summed snap_vcpu_demand of a cell's vCPUs. */
double snap_cell_cpu_demand(const struct snapshot *s, const struct snap_vm *vm, unsigned cell);
/* Position of a kernel node id, or -ENOENT. */
int snap_host_node_pos(const struct snap_host *h, int node_id);
/* Node positions of a set of kernel node ids (empty set: all nodes). */
nodemask_t snap_host_mask_of_ids(const struct snap_host *h, const struct idset *ids);
/* Nearest node position (distance, then position) with CPUs; itself if it has CPUs; -ENOENT if
 * no node has CPUs. */
int snap_host_nearest_cpu_node(const struct snap_host *h, int pos);
nodemask_t snap_host_cpu_nodes(const struct snap_host *h);
