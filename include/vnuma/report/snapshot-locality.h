/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Locality (as defined in locality.h) computed from a snapshot, so the daemon's timeline,
 * `vnumactl status` and the lab tests all use the one definition. */

#include "vnuma/model/snapshot.h"
#include "vnuma/report/locality.h"

/* Per cell; home_node in the result is a kernel node id. */
struct locality snap_cell_locality(const struct snapshot *s, const struct snap_vm *vm, unsigned cell);
struct locality snap_vm_locality(const struct snapshot *s, const struct snap_vm *vm);
