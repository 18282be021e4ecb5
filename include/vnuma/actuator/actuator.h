/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Actuators: carry out one planned action on one QEMU process.
 *
 * - direct (the one kind): sched_setaffinity(2) for pins, move_pages(2) for migrations, and for
 *   region policies the AllowedCPUs=/AllowedMemoryNodes= of the QEMU's own systemd unit, through
 *   systemd's D-Bus API (src/host/cgroup-systemd.c), since QEMU cannot change a memory backend's
 *   mbind policy once the backend exists. vnumad never creates a cgroup and never moves a process
 *   out of the cgroup it is in; a QEMU without a unit of its own has its region policy enforced by
 *   pins and migration only.
 *
 * Dry runs are not the actuator's business: under the engine's dry-run switch
 * (engine_config.dry_run) nothing is applied, so the actuator is never called.
 *
 * The actuator keeps the last few action lines (actuator_recorded) for the daemon and tests. The
 * engine adapter looks up the guest model of act->vm_id and calls actuator_apply; the actuator
 * never logs above debug, the caller logs once. */

#include <stddef.h>
#include <stdint.h>

#include "vnuma/basic/macro.h"
#include "vnuma/model/guest.h"
#include "vnuma/model/plan.h"

/* Not included: snapshot.h's nodemask_t clashes with libnuma's in the files that need both. */
struct snapshot;

enum actuator_kind {
        ACTUATOR_DIRECT,
        _ACTUATOR_KIND_MAX,
        _ACTUATOR_KIND_INVALID = -EINVAL,
};

const char *actuator_kind_to_string(enum actuator_kind k);
int actuator_kind_from_string(const char *s);

#define ACTUATOR_RETRIES_DEFAULT     3
#define ACTUATOR_RECORD_KEEP_DEFAULT 64
#define ACTUATOR_STATE_DIR_DEFAULT   "/run/vnumad/units"

struct actuator_config {
        enum actuator_kind kind;
        /* /proc and /sys below these roots: thread lists, each thread's cgroup, online CPUs. */
        const char *procfs_root; /* NULL = "/proc" */
        const char *sysfs_root;  /* NULL = "/sys" */
        /* One record per systemd unit whose properties vnumad set, so that a restart lifts what an
         * earlier run left (actuator_tick). NULL = ACTUATOR_STATE_DIR_DEFAULT. */
        const char *state_dir;
        unsigned batch_pages; /* pages per move_pages call; 0 = RESIDENCY_BATCH_PAGES */
        unsigned retries;     /* extra rounds for -EBUSY/-ENOMEM/-EAGAIN pages */
        unsigned record_keep; /* action lines kept; 0 = ACTUATOR_RECORD_KEEP_DEFAULT */
};

/* kind=direct, default roots, batch and keep; ACTUATOR_RETRIES_DEFAULT retries. */
void actuator_config_init(struct actuator_config *c);

/* The VM an action is for. The model is borrowed for the call. */
struct actuator_vm {
        uint64_t id; /* must equal the action's vm_id */
        const struct guest_model *model;
        const char *name; /* the VM's own name (never QEMU's -name), for messages; NULL = model->name */
};

/* What one apply did. Filled whenever non-NULL, on failure too: a migration that stops halfway
 * still reports the bytes it moved (this is a progress record, not an output value). */
struct actuator_result {
        /* migrate */
        uint64_t bytes_requested;     /* the action's byte count */
        uint64_t bytes_moved;         /* pages moved onto the target node, in bytes */
        uint64_t pages_moved;         /* elsewhere before, on the target node after */
        uint64_t pages_already_there; /* on the target node before we asked */
        uint64_t pages_busy;          /* still -EBUSY/-EAGAIN (or never reached) after the retries */
        uint64_t pages_nomem;         /* still -ENOMEM after the retries */
        uint64_t pages_absent;        /* -ENOENT: not populated; not an error */
        uint64_t pages_shared;        /* -EACCES: mapped by another process too, left by MPOL_MF_MOVE
                                       * (vnumad(8), SHARED BACKENDS); not a failure */
        uint64_t pages_failed;        /* -EFAULT (zero page), and pages of a failed call */
        uint64_t pages_unhinted;      /* hidden behind a NUMA-hinting pte (6.0-6.4), read once so
                                       * that move_pages sees them; also counted by outcome */
        /* The same pages in bytes (ranges of one action may differ in page size). */
        uint64_t bytes_already_there, bytes_busy, bytes_nomem, bytes_absent, bytes_shared, bytes_failed;
        /* pin / region policy */
        unsigned threads_pinned; /* pins: threads whose mask was set */
        /* region policy: something to log once at notice level (the policy is enforced by
         * migration only, and why), valid until the next apply; NULL when there is nothing new. */
        const char *notice;
};

struct actuator;

int actuator_new(const struct actuator_config *cfg, struct actuator **ret);
struct actuator *actuator_free(struct actuator *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct actuator *, actuator_free);

enum actuator_kind actuator_get_kind(const struct actuator *a);

/* Applies act to vm. s is the snapshot the plan was made from; it is needed by
 * ACTION_SET_REGION_POLICY (node positions -> kernel ids) and may be NULL otherwise.
 *
 * Returns 0 when the action was carried out in full, 1 when it was carried out in part (a
 * migration where some pages could not be moved, or whose process went away after some pages
 * moved: see *result; pages left because they are shared are no shortfall), -errno when nothing
 * was done:
 *   -EINVAL   malformed action or model (empty or offline CPU set, range past the cell's end, a
 *             negative node, vm id mismatch, no snapshot for a region policy)
 *   -ENOENT   the model has no such cell or vCPU index
 *   -ESRCH    a thread or the process is gone (pins: no thread was changed)
 *   -EPERM    not allowed to act on the process (MPOL_MF_MOVE_ALL, used for shared per-VM
 *             memory, needs CAP_SYS_NICE)
 *   -ENODEV   migrate to a node the kernel does not have (the pages are counted failed)
 *   -EACCES   migrate to a node outside the process's cpuset
 *   -ENOTCONN/-EIO/...  systemd refused or failed to set the unit's properties (region policy)
 *
 * ACTION_PIN_VCPUS / ACTION_PIN_EMULATOR: all threads or none. Every tid is checked to be a
 *   thread of model->pid and the CPU set to be non-empty and online before any mask changes; if a
 *   later sched_setaffinity fails, the masks already changed are put back. PIN_EMULATOR acts on
 *   the model's non-vCPU threads, or on the main thread (pid) when the model lists none.
 * ACTION_MIGRATE: [offset, offset+bytes) of the cell (offsets run over its regions in order),
 *   widened to whole pages, moved to act->node_id with move_pages in batches, in the action's
 *   range order, with MPOL_MF_MOVE_ALL for a region of sharing REGION_SHARED_MEMORY and
 *   MPOL_MF_MOVE otherwise (pages another process maps too are then left: pages_shared). Each
 *   batch is first queried (nodes = NULL) so pages already on the target and absent pages are not
 *   submitted, and "moved" means "was elsewhere, is there now". Pages answered
 *   -EBUSY/-ENOMEM/-EAGAIN are retried in smaller batches.
 * ACTION_SET_HOME: bookkeeping only, returns 0.
 * ACTION_SET_REGION_POLICY: bind/interleave restrict the cell to the nodes of act->node_mask;
 *   default/preferred lift the restriction (a cpuset cannot express preference). When the QEMU is
 *   the only process of its own systemd unit (/proc/PID/cgroup), the unit gets, at runtime,
 *   AllowedMemoryNodes= = the union of its cells' nodes and AllowedCPUs= = their CPUs, or empty
 *   (no restriction) while some cell is unrestricted; thread affinities are kept across the change.
 *   Otherwise, or when systemd cannot be asked, nothing is set, 0 is returned and result->notice
 *   says so once per VM. */
int actuator_apply(struct actuator *a, const struct snapshot *s, const struct action *act,
                   const struct actuator_vm *vm, struct actuator_result *result);

/* The VM is gone, no longer managed, or under a new policy: drops what the actuator remembers of it
 * and lifts what it set on the VM's unit. A lift that fails is queued and tried again by
 * actuator_tick: it returns -errno then, 0 otherwise (also for an unknown VM). */
int actuator_forget_vm(struct actuator *a, uint64_t vm_id);

/* Once per period, before the engine step: tries the queued lifts; the first call also queues
 * those an earlier run recorded and did not lift. Returns how many remain queued; *ret_message
 * (may be NULL) gets a line to log at warning level when a lift failed (on its 1st, 2nd, 4th...
 * attempt), or is left untouched. */
int actuator_tick(struct actuator *a, char **ret_message);

/* The newest min(n, kept) recorded action lines, oldest of them first: fills that many pointers
 * (valid until the next apply) and returns the count. Every apply records one line; a failed apply records
 * its error. */
size_t actuator_recorded(const struct actuator *a, const char **lines, size_t n);
/* Lines recorded since actuator_new, including those no longer kept. */
uint64_t actuator_recorded_total(const struct actuator *a);
