/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* DAMON (CONFIG_DAMON_VADDR, CONFIG_DAMON_SYSFS) through its sysfs interface,
 * SYSFS/kernel/mm/damon/admin (Documentation/admin-guide/mm/damon/usage.rst).
 *
 * vnumad runs one kdamond with one context: operations "fvaddr" (virtual addresses, the regions
 * we give stay fixed; plain "vaddr" would widen them to the three biggest mappings of each QEMU
 * every update interval), one target per QEMU process whose regions are the guest RAM ranges,
 * and one "stat" scheme matching every region, so that writing "update_schemes_tried_regions"
 * to the kdamond's state lists each region with its nr_accesses under
 * schemes/0/tried_regions/N/. That listing appeared in 6.2; without it the controller refuses.
 *
 * Ownership: the scheme's quotas/reset_interval_ms carries a token (DAMON ignores it for a scheme
 * with no quota). A kdamond whose token has vnumad's mark is a leftover of an earlier vnumad (or
 * of the sampler a reload replaces) and is taken over; any other configured kdamond belongs to
 * someone else and the controller refuses (-EBUSY) without touching it. Release stops the
 * kdamond and removes it, unless another controller took it over in between. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vnuma/basic/macro.h"

#define DAMON_ADMIN_PATH "/kernel/mm/damon/admin"

/* Bounds on what is read back: tried regions per update, nr_accesses of one region (at most
 * aggr_us / sample_us, which vnumad keeps at 20), and an address (x86-64 5-level user space). */
#define DAMON_REGIONS_MAX       65536u
#define DAMON_NR_ACCESSES_MAX   1000000u
#define DAMON_ADDRESS_MAX       (UINT64_C(1) << 57)
#define DAMON_TARGETS_MAX       1024u
#define DAMON_TARGET_RANGES_MAX 256u

/* vnumad's mark in the token's upper bits. */
#define DAMON_TOKEN_MARK  UINT64_C(0x766e756d) /* "vnum" */
#define DAMON_TOKEN_SHIFT 24

struct damon_range {
        uint64_t start, end; /* [start, end), page aligned */
};

/* One entry of schemes/0/tried_regions. */
struct damon_region {
        uint64_t start, end;
        uint32_t nr_accesses;
};

/* One monitored process: its ranges sorted by start and not overlapping. Borrowed. */
struct damon_target {
        pid_t pid;
        const struct damon_range *ranges;
        unsigned n_ranges;
};

struct damon_attrs {
        uint64_t sample_us, aggr_us, update_us;
        uint64_t min_nr_regions, max_nr_regions;
};

/* ---- pure ---- */

/* A decimal value of a sysfs file (one line, trailing newline allowed) that must be <= max.
 * -EBADMSG if it is not a number, -ERANGE above max. */
int damon_parse_u64(const char *text, uint64_t max, uint64_t *ret);

/* "on" or "off" (a kdamond's state file). -EBADMSG otherwise. */
int damon_parse_state(const char *text, bool *ret_on);

/* Whether the space-separated avail_operations text lists op. */
bool damon_ops_available(const char *avail, const char *op);

/* Whether a token carries vnumad's mark. */
bool damon_token_is_ours(uint64_t token);

/* Splits the tried regions (in the kernel's order: target by target, each target's regions
 * ascending) among the targets: the regions of a target tile its ranges exactly, so target t's
 * regions are ret_first[t] .. ret_first[t] + ret_count[t]. That holds for fvaddr whatever the
 * merges and splits, and tells targets apart even when two processes use the same addresses.
 * -EBADMSG when the regions do not tile the targets in order (a region outside its target,
 * overlapping, too many, too few). */
int damon_regions_assign(const struct damon_region *regions, size_t n_regions,
                         const struct damon_target *targets, size_t n_targets, size_t *ret_first,
                         size_t *ret_count);

/* Checks a target's ranges: sorted, not overlapping, page aligned, non-empty, within the bounds.
 * -EINVAL otherwise. */
int damon_target_check(const struct damon_target *t);

/* ---- sysfs ---- */

struct damon_ctl;

/* Claims kdamond 0 below SYSFS_ROOT (NULL: "/sys"): creates it if there are no kdamonds, takes
 * over one that carries vnumad's mark (turning it off), refuses anything else. Configures one
 * context with the fvaddr operations and the stat scheme, and leaves it off. Errors, each with
 * a message in *ret_error (may be NULL): -ENOENT no DAMON sysfs interface; -EBUSY a kdamond of
 * someone else (the message names it and its state); -EOPNOTSUPP no fvaddr operations or no
 * tried_regions (before 6.2); other -errno of a file. */
int damon_ctl_claim(const char *sysfs_root, struct damon_ctl **ret, char **ret_error);

/* Stops the kdamond and removes it (nr_kdamonds 0) if the token is still ours; frees. NULL ok. */
struct damon_ctl *damon_ctl_free(struct damon_ctl *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct damon_ctl *, damon_ctl_free);

/* (Re)starts monitoring of these targets with these attributes: off if it ran, the attributes and
 * targets written, on. n_targets 0 just stops it. -EINVAL for a bad target or too many. */
int damon_ctl_start(struct damon_ctl *c, const struct damon_attrs *a, const struct damon_target *targets,
                    size_t n_targets);

/* Turns the kdamond off (nothing if it is off). */
int damon_ctl_stop(struct damon_ctl *c);

/* Whether the kdamond runs, read from its state file (it stops on its own once every target
 * process has exited). */
int damon_ctl_running(struct damon_ctl *c, bool *ret);

/* Asks the kdamond for its tried regions (the write returns once the kdamond has listed them; 6.12
 * checks every 100 ms, so it sleeps 100-250 ms) and reads them. At most DAMON_REGIONS_MAX; each value
 * bounded (-EBADMSG, -E2BIG). The array is the caller's to free. */
int damon_ctl_update(struct damon_ctl *c, struct damon_region **ret, size_t *ret_n);

/* Whether the claim took over a kdamond with vnumad's mark (it was on: *ret_was_on). */
bool damon_ctl_taken_over(const struct damon_ctl *c, bool *ret_was_on);

/* The kdamond's directory (SYSFS/kernel/mm/damon/admin/kdamonds/N), for messages. */
const char *damon_ctl_dir(const struct damon_ctl *c);
