/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Locality, defined once (see vnumactl(8), LOCALITY):
 *
 *   A vCPU is on the node its affinity confines it to, else on the node of the CPU it last ran
 *   on (a pinned vCPU that sleeps keeps a stale last CPU).
 *   A cell's home node is the host node on which the most of the cell's vCPU threads are
 *   (ties: the node holding more of the cell's bytes, then the lower node id). A CPU-less cell
 *   is used by all vCPUs of the VM, so its home is taken over all of the VM's vCPUs.
 *   Locality of a cell = bytes on its home node / present bytes (pages on any node).
 *   Locality of a VM = sum of local bytes / sum of present bytes over its cells.
 *   With no present bytes, locality is undefined (null in JSON, "-" in tables).
 */

#include <stddef.h>
#include <stdint.h>

#include "vnuma/host/residency.h"

struct locality {
        int home_node; /* -1 if no vCPU placement is known */
        uint64_t local_bytes;
        uint64_t present_bytes;
};

/* vcpu_nodes: the host node of each vCPU's last CPU (entries < 0 are ignored). */
int locality_home_node(const int *vcpu_nodes, size_t n_vcpus, const struct residency *res);
struct locality locality_of_cell(const struct residency *res, int home_node);
void locality_accumulate(struct locality *total, const struct locality *cell);
/* 0..1, or -ENODATA when nothing is present. */
int locality_ratio(const struct locality *l, double *ret);
