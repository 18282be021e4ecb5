/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Placement advice for a guest about to start (numad's `-w VCPUS:MB`, which libvirt asks for
 * <vcpu placement='auto'> and <numatune><memory placement='auto'/>): the nodes the balancer itself
 * would start it on, judged on the planner's own ledger (CPU demand per node with the contention
 * the vCPUs' waits show, free memory minus what homes were promised) and the planner's capacity
 * rules. Pure: no I/O. */

#include <stddef.h>
#include <stdint.h>

#include "vnuma/policies/policy.h"

struct advise_request {
        unsigned vcpus;     /* counted as busy: a guest's demand is not known before it runs */
        uint64_t mem_bytes; /* 0: CPUs only */
};

/* Node positions for the request, in *ret:
 * 1. the single node where both the vCPUs (rule_cpu_fits) and the memory (rule_mem_fits) fit,
 *    the emptiest one: highest CPU share by the performance model, then most idle CPUs, then
 *    most free memory, then the lowest position;
 * 2. else the fewest nodes that hold both together, closest first (sum of SLIT distances between
 *    the chosen nodes), then highest CPU share;
 * 3. else (the CPUs are overcommitted everywhere, which KVM hosts run with) the fewest nodes that
 *    hold the memory, highest CPU share first, then closest.
 * -ENOSPC when the memory fits no set of nodes, -EINVAL for 0 vCPUs or a host without nodes. */
int policy_advise(const struct snap_host *h, const struct policy_ledger *l, const struct policy_params *p,
                  const struct advise_request *req, nodemask_t *ret);

/* The same on a snapshot without planner state (a one-shot reading of the host): its ledger is
 * built the way the planner begins a period. */
int policy_advise_snapshot(const struct snapshot *s, const struct policy_params *p,
                           const struct advise_request *req, nodemask_t *ret);

/* Seeds a VM's fresh planner state with the home it was started on (libvirt's placement='auto'
 * nodeset, kernel node ids in vm->policy.start_nodes): one node is the whole VM's home; several
 * are spread over its cells in order (one cell: all of them). Not provisional: the advice was
 * ours, or the operator's numad's, and the memory is there already. No-op without start nodes or
 * outside mode auto. */
void policy_seed_home(const struct snap_host *h, const struct snap_vm *vm, struct vm_state *vs);

/* The kernel node ids of mask as a Linux list ("0", "0-1", "0,2"), numad's output. */
int policy_advise_format(const struct snap_host *h, nodemask_t mask, char *buf, size_t size);
