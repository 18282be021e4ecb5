/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Whether a VM's memory is where its vCPUs are, and how often to look again when it is: the
 * kernel's task_numa_work scans a task less often while its faults are local
 * (update_task_scan_period); vnumad's window scan and soft-dirty clears do the same per VM. */

#include <stdbool.h>

#include "vnuma/model/snapshot.h"

/* Periods between two scans of a settled VM, at most. */
#define SCAN_INTERVAL_MAX 32u

/* How much of the VM's cells' resident memory (this snapshot's resident_bytes) is on the nodes
 * their vCPUs ran on, weighted by run time there; a cell whose vCPUs did not run counts the
 * nodes they last ran on (their pin) alike; a cell with no known vCPU node does not count. */
void vm_memory_locality(const struct snap_vm *sv, double *ret_local, double *ret_total);

/* At least 9 in 10 bytes local, and something to judge by. */
bool vm_memory_settled(double local, double total);

/* The next interval after a scan: twice CURRENT (at most SCAN_INTERVAL_MAX) while settled,
 * 1 (every period) as soon as it is not. */
unsigned scan_next_interval(unsigned current, bool settled);
