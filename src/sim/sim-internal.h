/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "vnuma/sim/sim.h"

/* CPU demand on node: its vCPUs' busy (what they would run if they could) plus the other work. */
double sim_node_load(const struct sim_world *w, int node);
/* Share of its demand every runnable thread on node gets (perf_cpu_share of the node). */
double sim_node_share(const struct sim_world *w, int node);
/* Least loaded (busy per CPU) node with CPUs inside allowed (0 = any), or -1. */
int sim_least_loaded(const struct sim_world *w, nodemask_t allowed, const double *load);
uint64_t sim_node_free(const struct sim_world *w, int node);
/* Per cell, the share of its access weight resident on each node. */
void sim_vm_hot_fractions(const struct sim_world *w, const struct sim_vm *vm, double (*frac)[SNAP_NODES_MAX],
                          bool count_transit);
double sim_cell_access_share(const struct sim_vm *vm, double (*frac)[SNAP_NODES_MAX], unsigned c, int h);

/* The placement that maximises the performance model with memory all local (sim-optimal-model.c),
 * each node's memory up to its total minus mem_reserve: assign (per world VM, per cell) and its
 * value; exact when proven. */
int sim_model_optimum(const struct sim_world *w, uint64_t mem_reserve, int (*assign)[4], double *ret_value,
                      bool *ret_exact);
