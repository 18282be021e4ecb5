/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The sampler: once per period it reads where each managed VM's memory and vCPUs are and builds
 * the immutable snapshot the policies plan from (the "sense" step of the engine).
 *
 * Memory side, per guest cell:
 *  - residency (always on): a window of the cell's memory, a few chunks each period, is looked up
 *    with move_pages(NULL nodes). The window advances and wraps like the kernel's
 *    numa_scan_offset, so a period costs O(window_bytes), never O(guest RAM). A per-chunk map
 *    remembers each chunk's node (majority of its present pages) and present bytes; the cell's
 *    resident_bytes[] come from it. Chunks the window has not reached yet are UNKNOWN and are
 *    reported as not present until seen, so in the first periods of a big guest
 *    snap_cell.not_present_bytes overstates (sampler_vm_coverage() tells how much is unknown).
 *  - hinting (numa_balancing=1 and SCHED_DEBUG): the kernel's per-thread NUMA hinting-fault
 *    statistics of each vCPU, /proc/PID/task/TID/sched. snap_cell.access[h] is the growth, since
 *    the previous period, of the task faults (private + shared) of the cell's vCPUs on node h.
 *    The kernel decays those numbers once per scan pass; see src/sampler/sampler-sched.h for how the
 *    delta accounts for that and for counters that start over. A vCPU's first reading is the
 *    baseline and contributes 0.
 *  - soft-dirty (hotness without DAMON, CONFIG_MEM_SOFT_DIRTY): clear_refs 4 once per VM per
 *    period, then pagemap bit 55 over the next period's window. snap_chunk.hotness is the number
 *    of 4 KiB pages of the chunk written in between, and snap_cell.access[h] the sum of it over
 *    the window's chunks on node h (the cell's own memory stands in for its vCPUs' accesses:
 *    the vNUMA prior). The first period has no clear to compare with and reports hotness 0.
 *  - damon (CONFIG_DAMON_VADDR + CONFIG_DAMON_SYSFS, 6.2+; sampler-damon.h, host/damon.h): one
 *    kdamond watches every VM's guest RAM (fvaddr, one target per QEMU, a stat scheme); each
 *    period its tried regions are read once and split per VM. snap_chunk.hotness is the regions'
 *    nr_accesses weighted by their overlap with the chunk, in 4 KiB pages' worth (a chunk wholly
 *    accessed in every sample of the last aggregation scores its page count, like a chunk
 *    wholly written under soft-dirty), and snap_cell.access[h] its sum over the window's chunks
 *    on node h, as for soft-dirty. Reads count too, and the QEMU process is never
 *    write-protected. Auto prefers it; a kdamond that cannot be claimed (someone else's) or a
 *    first start that fails falls back to what auto would take without it, in one log line.
 *
 * CPU side: each vCPU's node is the node of the CPU it last ran on, its runtime_ns the growth of
 * schedstat's run time over the period (0 on its first reading); snap_cell.cpu_ns[] sums them
 * per node; snap_vm.emulator_node is the node most emulator threads last ran on.
 *
 * Host: topology (nodes by position, kernel ids in snap_node.id), MemFree of each node re-read
 * from sysfs every period, and per-node busy CPUs from /proc/stat deltas (the first period uses
 * the counters since boot).
 *
 * Index conventions in the snapshot: snap_vm.cells follow guest_model.cells (sorted by guest
 * node id; snap_cell.id is that id); snap_vcpu.cell is the cell's POSITION in snap_vm.cells,
 * which is also the "cell" of sampler_note_moved(). */

#include <stddef.h>
#include <stdint.h>

#include "vnuma/basic/macro.h"
#include "vnuma/host/topology.h"
#include "vnuma/model/guest.h"
#include "vnuma/model/policy-mode.h"
#include "vnuma/model/snapshot.h"

enum sampler_kind {
        SAMPLER_AUTO,
        SAMPLER_RESIDENCY,
        SAMPLER_HINTING,
        SAMPLER_SOFT_DIRTY,
        SAMPLER_DAMON,
        _SAMPLER_KIND_MAX,
        _SAMPLER_KIND_INVALID = -EINVAL,
};

/* "auto", "residency", "hinting", "soft-dirty", "damon". */
const char *sampler_kind_to_string(enum sampler_kind k);
/* The kind, or -EINVAL. */
int sampler_kind_from_string(const char *s);

/* Memory samplers in use besides residency. */
#define SAMPLER_USE_HINTING    (1u << 0)
#define SAMPLER_USE_SOFT_DIRTY (1u << 1)
#define SAMPLER_USE_DAMON      (1u << 2)

#define SAMPLER_WINDOW_BYTES_DEFAULT (UINT64_C(256) << 20)
#define SAMPLER_CHUNK_BYTES_DEFAULT  (UINT64_C(2) << 20)

struct sampler_config {
        const char *procfs_root; /* NULL: "/proc"; copied */
        const char *sysfs_root;  /* NULL: "/sys"; copied */
        enum sampler_kind kind;
        uint64_t window_bytes; /* per VM per period, shared among its cells by size; 0: default */
        uint64_t chunk_bytes;  /* map granularity, a power of two >= 4 KiB; 0: default. A cell with
                                * larger pages (hugetlbfs) uses its page size instead. */
        /* Monotonic nanoseconds. When set, each VM's vCPU run and wait times are scaled from the
         * time between its own two readings to the period: on a loaded host one VM's readings can
         * come a tenth of a second later in one period than in the next. NULL (fixture trees): the
         * readings count as one period apart. */
        uint64_t (*now_ns)(void);
};

/* procfs/sysfs NULL, kind auto, default window and chunk. */
void sampler_config_init(struct sampler_config *c);

/* One managed VM, as the caller knows it this period. Everything is borrowed for the call. */
struct sampler_vm {
        uint64_t id; /* stable across periods */
        const char *name;
        const struct guest_model *model;
        struct vm_policy policy;
};

enum sampler_issue_kind {
        SAMPLER_ISSUE_GONE,       /* the QEMU process exited: drop the VM; it is not in the snapshot */
        SAMPLER_ISSUE_STALE,      /* a vCPU thread vanished while QEMU lives: re-learn the model;
                                   * not in the snapshot */
        SAMPLER_ISSUE_FAILED,     /* another error reading the VM; not in the snapshot this period */
        SAMPLER_ISSUE_HINTING,    /* hinting data unreadable (e.g. malformed sched text); the VM
                                   * is in the snapshot with access[] all zero */
        SAMPLER_ISSUE_SOFT_DIRTY, /* soft-dirty unusable this period; in the snapshot, hotness 0 */
        SAMPLER_ISSUE_DAMON,      /* DAMON's regions unusable this period (vm_id 0: for every VM);
                                   * in the snapshot, hotness 0 */
        SAMPLER_ISSUE_HOST,       /* host readings failed; sampler_sense() failed */
        _SAMPLER_ISSUE_KIND_MAX,
};

const char *sampler_issue_kind_to_string(enum sampler_issue_kind k);

struct sampler_issue {
        uint64_t vm_id; /* 0 for SAMPLER_ISSUE_HOST */
        enum sampler_issue_kind kind;
        int error;         /* negative errno */
        char message[256]; /* what failed, naming the file (and line for parse errors) */
};

struct sampler;

/* Chooses the samplers (see sampler_select in src/sampler/sampler-select.h for the auto rules).
 * -EINVAL on a bad config, -EOPNOTSUPP if the requested kind is not available here, -EBADMSG if
 * a capability file does not parse. */
int sampler_new(const struct sampler_config *cfg, struct sampler **ret);
struct sampler *sampler_free(struct sampler *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct sampler *, sampler_free);

/* "residency", "residency+hinting", "residency+soft-dirty" or "residency+damon", for vnumactl
 * status. */
const char *sampler_describe(const struct sampler *s);
unsigned sampler_flags(const struct sampler *s);
/* The scan window from the next sense on; the chunk maps and window cursors are kept (a cursor
 * simply advances by the new amount). -EINVAL, and nothing changed, when window_bytes is smaller
 * than the chunk size. */
int sampler_set_window(struct sampler *s, uint64_t window_bytes);
uint64_t sampler_window(const struct sampler *s);

/* Builds the snapshot of one period. A VM that cannot be read is left out and reported through
 * sampler_issues() (a dead QEMU must not fail the whole sense); the call itself fails only on
 * host readings (-EBADMSG for a malformed /proc/stat or meminfo, also reported as an issue),
 * more than SNAP_NODES_MAX host nodes (-E2BIG) or -ENOMEM. */
int sampler_sense(struct sampler *s, const struct host_topology *topo, const struct sampler_vm *vms,
                  size_t n_vms, uint64_t period, uint64_t period_ns, struct snapshot **ret);

/* Problems of the last sampler_sense(), valid until the next call. Returns how many. */
size_t sampler_issues(const struct sampler *s, const struct sampler_issue **ret);

/* Drops all state kept for a VM (window cursors, chunk maps, counter baselines). State of VMs
 * not passed to sampler_sense() is kept until forgotten. */
void sampler_forget_vm(struct sampler *s, uint64_t vm_id);

/* Actuator feedback: [offset, offset + bytes) of the cell at POSITION cell now sits on host node
 * node_id (kernel id), so the chunk map shows it before the window comes round again. Chunks at
 * least half covered take the node; unknown and empty chunks stay as they are. -ENOENT for an
 * unknown VM or cell. */
int sampler_note_moved(struct sampler *s, uint64_t vm_id, unsigned cell, uint64_t offset, uint64_t bytes,
                       int node_id);

/* How much of a VM's memory the chunk maps have seen at least once: known and total bytes.
 * -ENOENT for an unknown VM. */
int sampler_vm_coverage(const struct sampler *s, uint64_t vm_id, uint64_t *ret_known, uint64_t *ret_total);

/* One reading of the host without a sampler (vnumactl advise with no daemon): each node's free
 * memory now and its busy CPUs over interval_ns, between two /proc/stat readings. -errno of the
 * file that could not be read or parsed. */
int sampler_read_host_once(const struct host_topology *topo, const char *sysfs_root, const char *procfs_root,
                           uint64_t interval_ns, struct snap_host *ret);
