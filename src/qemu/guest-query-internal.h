/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the steps of guest_model_query() share: the context they fill and how they fail. Each
 * step names its source in errors, so a bad reply or an inconsistent QEMU is reported as
 * "COMMAND: problem". guest-query.c runs the steps; guest-query-threads.c, -memory.c and
 * -cells.c hold them (-cells.c uses -memory.c's backends). */

#include <stdbool.h>
#include <stdint.h>

#include "vnuma/basic/error-message.h"
#include "vnuma/basic/idset.h"
#include "vnuma/model/guest.h"
#include "vnuma/qmp/qmp.h"

struct mtree;
struct proc_maps;

struct backend_info {
        char *id;
        enum backend_kind kind;
        uint64_t size;
        char *policy;
        struct idset host_nodes;
        bool prealloc;
};

struct memory_device {
        char *id;
        char *backend; /* backend id (the QOM path without "/objects/") */
        int node;
};

struct query_ctx {
        struct qmp_client *qmp;
        const char *procfs_root;
        char **ret_error;
        struct guest_model *m;
        struct backend_info *backends;
        size_t n_backends;
        struct memory_device *devices;
        size_t n_devices;
        struct mtree *mtree;
        struct proc_maps *smaps;
};

/* What QEMU may report, at most. A QEMU is not trusted to keep its lists small, and every list
 * is walked while the daemon's loop waits: counts over these caps fail the query. QEMU itself
 * allows 128 NUMA nodes (MAX_NODES) and 256 memory slots; 1024 vCPUs is idset's range. */
#define GUEST_MAX_VCPUS          IDSET_MAX
#define GUEST_MAX_CELLS          128
#define GUEST_MAX_BACKENDS       512
#define GUEST_MAX_MEMORY_DEVICES 256
#define GUEST_MAX_QOM_OBJECTS    4096
#define GUEST_MAX_IOTHREADS      1024
/* gpa2hva round trips per backend: one per guest-physical range it is mapped at. */
#define GUEST_MAX_BACKEND_RANGES 64

/* Each step fails once and returns, so the message set here is the one the caller sees. */
#define fail(c, r, ...) error_message((c)->ret_error, r, __VA_ARGS__)

/* "COMMAND: N elements, more than the M vnumad accepts" for a list over its cap. */
#define fail_too_many(c, what, n, max)                                                           \
        fail(c, -E2BIG, "%s: %zu elements, more than the %zu vnumad accepts", what, (size_t)(n), \
             (size_t)(max))

static inline int qmp_fail(struct query_ctx *c, int r)
{
        return fail(c, r, "%s", qmp_client_error_message(c->qmp));
}

/* guest-query-threads.c: the vCPUs from query-cpus-fast (sorted by index), the QEMU pid they
 * belong to, and QEMU's other threads (emulator, iothreads). */
int guest_query_vcpus(struct query_ctx *c);
int guest_query_pid(struct query_ctx *c);
int guest_query_threads(struct query_ctx *c);

/* guest-query-memory.c: the memory backends (query-memdev, typed by qom-list /objects) and the
 * memory devices that plug them into guest nodes. */
int guest_query_backends(struct query_ctx *c);
int guest_query_memory_devices(struct query_ctx *c);
struct backend_info *guest_query_backend_find(struct query_ctx *c, const char *id);

/* guest-query-cells.c: the guest cells, each with its regions located in QEMU's address space,
 * cross-checked against info numa and /proc/PID/smaps. */
int guest_query_cells(struct query_ctx *c);
