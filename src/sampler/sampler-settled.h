/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Whether a VM's memory is where its vCPUs are, and how often to look again when it is: the
 * kernel's task_numa_work scans a task less often while its faults are local
 * (update_task_scan_period); vnumad's window scan and soft-dirty clears do the same per VM. */

#include <stdbool.h>

#include "vnuma/model/snapshot.h"

/* Periods between two scans of a settled VM, at most. */
#define SCAN_INTERVAL_MAX 32u

/* How local the VM's memory is to its vCPUs, as LOCAL out of TOTAL. Each cell whose vCPUs ran
 * counts the share of its resident bytes on the nodes they ran on (weighted by run time there),
 * weighted by that run time: like the kernel's fault-weighted locality, a cell counts as much as
 * it runs, so an idle cell whose vCPUs wake on a spare node (vnumad(8)) does not unsettle a VM
 * whose busy cells are local. When no vCPU ran, bytes on the nodes the vCPUs last ran on (their
 * pin) over the resident bytes; a cell with no known vCPU node does not count. */
void vm_memory_locality(const struct snap_vm *sv, double *ret_local, double *ret_total);

/* At least 9 in 10 bytes local, and something to judge by. */
bool vm_memory_settled(double local, double total);

/* The next interval after a scan: twice CURRENT (at most SCAN_INTERVAL_MAX) while settled,
 * 1 (every period) as soon as it is not. */
unsigned scan_next_interval(unsigned current, bool settled);
