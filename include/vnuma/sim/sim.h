/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The simulator: a synthetic host with VMs whose memory is a list of chunks and whose vCPUs run on
 * nodes. It produces snapshots (the sampler), applies actions (the actuator) and advances time,
 * so the engine and the very same policies run against it. Everything random comes from the seed. */

#include <stdbool.h>
#include <stdint.h>

#include "vnuma/engine/engine.h"
#include "vnuma/model/snapshot.h"

#define SIM_CHUNK_BYTES     (UINT64_C(64) << 20)
#define SIM_PINGPONG_WINDOW 10
/* Chunks per cell the simulated sampler reports each period (4 GiB): a window that advances over
 * the cell like the residency sampler's move_pages window (task_numa_work's scan offset). */
#define SIM_SCAN_WINDOW_CHUNKS 64

struct sim_config {
        unsigned n_nodes; /* 2, 4 or 8 (any 1..SNAP_NODES_MAX works) */
        unsigned n_vms;
        uint64_t seed;
        unsigned periods;
        bool dynamic;      /* phase changes, arrivals and departures */
        unsigned cells;    /* force every VM to this many cells; 0 = random 1, 2 or 4 */
        double mem_load;   /* VM memory / host memory, e.g. 0.6 */
        double cpu_load;   /* vCPU demand / host CPUs, e.g. 0.6; above 1 the host is overcommitted */
        double other_load; /* host work beside the VMs, per node, in CPUs per CPU (e.g. 0.2); 0 none */
};

void sim_config_init(struct sim_config *c);

struct sim_chunk {
        int8_t node;      /* -1 not present */
        int8_t left_node; /* node it last moved away from, -1 none */
        uint32_t hot;     /* access weight */
        uint32_t left_period;
        uint32_t moved_period; /* in transit during this period: counts as remote */
};

struct sim_vcpu {
        unsigned cell;
        int node;
        nodemask_t allowed; /* 0 = anywhere */
        double busy;        /* fraction of a CPU */
        int8_t left_node;
        uint32_t left_period;
};

struct sim_cell {
        uint64_t size_bytes;
        unsigned n_chunks;
        struct sim_chunk *chunks;
        unsigned scan_next; /* first chunk of the next scan window */
};

struct sim_vm {
        uint64_t id;
        bool active;
        unsigned arrive;   /* period it starts */
        unsigned leave;    /* period it stops; UINT32_MAX never */
        unsigned phase_at; /* period its access pattern changes; UINT32_MAX never */
        bool numa_aware;
        uint64_t rng; /* its own stream: first touch and phases do not depend on the policy */
        double own;   /* share of a cell's accesses that hit its own memory */
        struct vm_policy policy;
        int emulator_node;
        unsigned n_cells;
        struct sim_cell *cells;
        unsigned n_vcpus;
        struct sim_vcpu *vcpus;
        uint64_t initial_resident[4][SNAP_NODES_MAX]; /* per cell (first 4), at arrival */
};

struct sim_world {
        struct sim_config cfg;
        struct snap_host host;
        uint64_t rng;       /* generation */
        uint64_t sched_rng; /* the scheduler */
        uint64_t period;
        unsigned n_vms;
        struct sim_vm *vms;
        uint64_t bandwidth_per_period; /* migration bytes the host can move per period */
        uint64_t moved_this_period;
        uint64_t mem_used[SNAP_NODES_MAX];
        /* CPU demand on each node that is no managed vCPU (host work, other processes), in CPUs: it
         * takes its share of the node's CPUs like any runnable thread. */
        double other_load[SNAP_NODES_MAX];
        unsigned *active_map; /* snapshot vm index -> world vm index, for the last snapshot */
        unsigned n_active_map;
        /* Totals. */
        uint64_t bytes_migrated;
        uint64_t pingpong_moves;
        uint64_t failed_actions;
};

int sim_world_new(const struct sim_config *cfg, struct sim_world **ret);
struct sim_world *sim_world_free(struct sim_world *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct sim_world *, sim_world_free);

/* Advances one period: arrivals and departures, phase changes, the scheduler for unpinned vCPUs,
 * first touch of new memory. */
void sim_world_advance(struct sim_world *w);
/* Access locality of the active VMs now: share of accesses whose vCPU and memory share a node. */
double sim_world_locality(const struct sim_world *w);
/* The performance model's value of the world now (perf-model.h): work summed over the active vCPUs,
 * each at its node's CPU share and the speed of where its accesses go, in CPUs of useful work. */
double sim_world_throughput(const struct sim_world *w);
uint64_t sim_vm_bytes_on(const struct sim_vm *vm, unsigned cell, int node);

/* The engine's ops for the simulated world (userdata: struct sim_world *). */
int sim_sense(void *userdata, uint64_t period, struct snapshot **ret);
int sim_apply(void *userdata, const struct snapshot *s, const struct action *a);
uint64_t sim_clock_now_ns(void *userdata); /* real monotonic time: plan cost is measured for real */

/* The reference placements, both with every cell whole on one CPU node:
 * - the best locality, capacities as the policies see them (vCPU demand <= CPUs * imbalance,
 *   memory <= total - reserve), and the fewest bytes any placement that good must move;
 * - the best value of the performance model (perf-model.h) with memory all local, any number of
 *   cells per node (the CPU share prices contention; memory within total - reserve): what the
 *   optimal baseline moves to. */
struct sim_optimum {
        double locality;    /* of the assignment found */
        double upper_bound; /* proven upper bound */
        bool exact;         /* locality == the true optimum (proven) */
        uint64_t lower_bound_bytes;
        double throughput;     /* the model's value of assign, in CPUs of useful work */
        bool throughput_exact; /* proven by exhaustive search; else a heuristic's (a lower bound) */
        unsigned n_vms;
        int (*assign)[4];          /* the model's: per VM, per cell (first 4): node position, -1 none */
        int (*locality_assign)[4]; /* the locality optimum's, same shape */
};

int sim_optimum_compute(const struct sim_world *w, const struct policy_params *p, struct sim_optimum *ret);
void sim_optimum_done(struct sim_optimum *o);

/* Baselines (not product policies). */
extern const struct policy_ops sim_baseline_none;
extern const struct policy_ops sim_baseline_numad;
extern const struct policy_ops sim_baseline_autonuma;
extern const struct policy_ops sim_baseline_optimal; /* reads struct sim_optimum from policy_state.ext */

/* One scenario under one policy. */
struct sim_result {
        char policy[16];
        double locality; /* final */
        double optimal_locality;
        bool optimal_exact;
        uint64_t bytes_migrated;
        uint64_t lower_bound_bytes;
        unsigned periods_to_converge;
        uint64_t pingpong_moves;
        double plan_us_median;
        double throughput;         /* the model's value (sim_world_throughput), mean of the last quarter */
        double optimal_throughput; /* of the model's reference placement (struct sim_optimum) */
        bool optimal_throughput_exact;
        unsigned n_series;
        double *series; /* locality per period */
};

/* The engine parameters every simulated scenario runs with (budgets scaled to the host). */
void sim_engine_params(const struct sim_world *w, struct policy_params *p);
int sim_run(const struct sim_config *cfg, const char *policy_name, struct sim_result *ret);
void sim_result_done(struct sim_result *r);
