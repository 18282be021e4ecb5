/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The DAMON sampler: one kdamond watching the guest RAM of every managed QEMU (host/damon.h),
 * asked once per period for its regions; a chunk's hotness is the nr_accesses of the regions
 * overlapping it, weighted by the overlap. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vnuma/host/damon.h"
#include "vnuma/model/guest.h"

struct sampler;
struct sampler_vm;

/* ---- pure ---- */

/* Monitoring attributes for a period (the one measured when the kdamond is (re)started: they are
 * not changed while it runs, since a restart loses what DAMON learned) and the chunks of all
 * monitored cells:
 *  - aggr_us: a tenth of the period, at most DAMON's default 100 ms and at least 10 ms. Each
 *    period reads the last finished aggregation, so it must be shorter than the period; the
 *    request for tried regions sleeps in vnumad's single event loop until the kdamond has
 *    listed its regions (at the end of an aggregation, polled every 100 ms by 6.12), so it is
 *    kept short.
 *  - sample_us = aggr_us / 20: nr_accesses runs 0..20 (DAMON's default 5 ms / 100 ms ratio).
 *  - max_nr_regions: one per chunk (finer tells the chunk map nothing), between 20 and DAMON's
 *    default 1000, since the kdamond's cost grows with the regions it samples; min 10.
 *  - update_us: 1 s (fvaddr never re-reads the mappings; the value is only required). */
void sampler_damon_attrs(uint64_t period_ns, uint64_t total_chunks, struct damon_attrs *ret);

/* nr_accesses at which a region counts as wholly hot: aggr_us / sample_us. */
uint32_t sampler_damon_max_accesses(const struct damon_attrs *a);

/* Hotness of [start, start + len) in 4 KiB pages' worth: the sum over the overlapping regions
 * (sorted, not overlapping) of overlap / 4 KiB * min(nr_accesses, max_acc) / max_acc, rounded
 * up, so a touched range never reads 0. The same unit as soft-dirty's written pages. */
uint64_t damon_range_hotness(const struct damon_region *regions, size_t n, uint64_t start, uint64_t len,
                             uint32_t max_acc);

/* A VM's target ranges: the host ranges of all its cells' regions, sorted and merged. *ret is
 * the caller's. -E2BIG past DAMON_TARGET_RANGES_MAX, -EINVAL for an unaligned or empty region. */
int sampler_damon_ranges(const struct guest_model *m, struct damon_range **ret, unsigned *ret_n);

/* ---- with the kdamond (sampler-damon.c) ---- */

struct sampler_damon;

/* Claims the kdamond (damon_ctl_claim); *ret_error says why not. */
int sampler_damon_new(const char *sysfs_root, struct sampler_damon **ret, char **ret_error);
struct sampler_damon *sampler_damon_free(struct sampler_damon *d);

/* Once per period, before the VMs are read: (re)starts the kdamond when the set of VMs or their
 * ranges changed or it stopped; this period's regions are read when a VM first asks for them. A
 * failure is recorded as an issue and leaves every VM's hotness 0 this period. A first start that fails
 * returns its error (the sampler then falls back); later ones are retried next period. */
int sampler_damon_refresh(struct sampler *s, struct sampler_damon *d, const struct sampler_vm *vms,
                          size_t n_vms, uint64_t period_ns);

/* The kdamond's sysfs directory, for messages. */
const char *sampler_damon_dir(const struct sampler_damon *d);
/* Whether the claim took over a kdamond left by an earlier vnumad (and whether it ran). */
bool sampler_damon_taken_over(const struct sampler_damon *d, bool *ret_was_on);

/* This period's regions of a VM (sorted), or none. The first call of a period reads them from the
 * kdamond (a failure is an issue, and no VM has regions this period); only -ENOMEM fails. */
int sampler_damon_vm_regions(struct sampler *s, struct sampler_damon *d, uint64_t vm_id,
                             const struct damon_region **ret, size_t *ret_n, uint32_t *ret_max_acc);
