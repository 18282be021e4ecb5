/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Hand-built snapshots for the brain's unit tests. */

#include "vnuma/model/snapshot.h"

#define TB_GIB       (UINT64_C(1) << 30)
#define TB_MIB       (UINT64_C(1) << 20)
#define TB_PERIOD_NS UINT64_C(1000000000)

/* n_nodes nodes with ids 0,1,.. (or sparse ids when sparse: 0,2,4,..), cpus_per_node CPUs each
 * (0 for nodes listed in cpuless_mask), mem_per_node bytes; distances 10 local, 20 + 5*|i-j| remote. */
struct snapshot *tb_snapshot(unsigned n_nodes, unsigned cpus_per_node, uint64_t mem_per_node, unsigned n_vms,
                             uint32_t cpuless_mask, bool sparse);
/* VM vi: n_cells cells of cell_bytes, vcpus_per_cell vCPUs each, chunks of chunk_bytes (not present). */
void tb_vm(struct snapshot *s, unsigned vi, uint64_t id, unsigned n_cells, unsigned vcpus_per_cell,
           uint64_t cell_bytes, uint64_t chunk_bytes);
/* Every chunk of the cell on node (position); hotness 10 each. */
void tb_cell_on(struct snapshot *s, unsigned vi, unsigned cell, int node);
/* Chunk k of the cell on node. */
void tb_chunk_on(struct snapshot *s, unsigned vi, unsigned cell, unsigned k, int node, uint32_t hotness);
/* The cell's vCPUs run on node, each busy `busy` of the period. */
void tb_vcpus_on(struct snapshot *s, unsigned vi, unsigned cell, int node, double busy);
/* Every vCPU of VM vi also waited `wait` of the period for a CPU (schedstat run_delay). */
void tb_vcpus_wait(struct snapshot *s, unsigned vi, double wait);
/* Recomputes resident bytes, accesses (from chunk hotness, as if the cell's vCPUs made them), cpu_ns,
 * node free memory and CPU load from the chunks and vCPUs. Call after placing. */
void tb_finish(struct snapshot *s);
