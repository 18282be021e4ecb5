/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Guest model over QMP. Each step names its source in errors, so a bad reply or an
 * inconsistent QEMU is reported as "COMMAND: problem" and nothing partial is returned. */
#include "vnuma/qemu/guest-query.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vnuma/basic/error-message.h"
#include "vnuma/basic/json-util.h"
#include "vnuma/host/proc-maps.h"
#include "vnuma/host/proc-task.h"
#include "vnuma/qemu/hmp-parse.h"
#include "vnuma/qemu/mtree.h"
#include "vnuma/qemu/qemu-cmdline.h"
#include "vnuma/qmp/qmp.h"

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

/* Each step fails once and returns, so the message set here is the one the caller sees. */
#define fail(c, r, ...) error_message((c)->ret_error, r, __VA_ARGS__)

static int qmp_fail(struct query_ctx *c, int r)
{
        return fail(c, r, "%s", qmp_client_error_message(c->qmp));
}

static void ctx_done(struct query_ctx *c)
{
        for (size_t i = 0; i < c->n_backends; i++) {
                free(c->backends[i].id);
                free(c->backends[i].policy);
        }
        free(c->backends);
        for (size_t i = 0; i < c->n_devices; i++) {
                free(c->devices[i].id);
                free(c->devices[i].backend);
        }
        free(c->devices);
        mtree_free(c->mtree);
        proc_maps_free(c->smaps);
        guest_model_free(c->m);
}

static struct backend_info *backend_find(struct query_ctx *c, const char *id)
{
        for (size_t i = 0; i < c->n_backends; i++)
                if (streq(c->backends[i].id, id))
                        return &c->backends[i];
        return NULL;
}

static int cmp_vcpu(const void *a, const void *b)
{
        const struct guest_vcpu *x = a, *y = b;
        return (x->index > y->index) - (x->index < y->index);
}

static int query_name(struct query_ctx *c)
{
        _cleanup_json_ struct json_object *ret = NULL;
        const char *name;
        int r;

        r = qmp_client_execute(c->qmp, "query-name", NULL, &ret);
        if (r < 0)
                return qmp_fail(c, r);
        if (json_member_string(ret, "name", &name) < 0)
                return 0; /* QEMU without -name: the caller names the VM */
        c->m->name = strdup(name);
        return c->m->name ? 0 : -ENOMEM;
}

/* A transport without a greeting (QMP through libvirt) has no version yet: ask. Best effort. */
static void query_version(struct query_ctx *c)
{
        _cleanup_json_ struct json_object *ret = NULL;
        struct json_object *qemu = NULL;

        if (c->m->qemu_major || qmp_client_execute(c->qmp, "query-version", NULL, &ret) < 0)
                return;
        if (json_member_object(ret, "qemu", &qemu) < 0 || !qemu)
                return;
        c->m->qemu_major = (int)json_uint64_or(qemu, "major", 0);
        c->m->qemu_minor = (int)json_uint64_or(qemu, "minor", 0);
        c->m->qemu_micro = (int)json_uint64_or(qemu, "micro", 0);
}

static int query_vcpus(struct query_ctx *c)
{
        _cleanup_json_ struct json_object *ret = NULL;
        size_t n;
        int r;

        r = qmp_client_execute(c->qmp, "query-cpus-fast", NULL, &ret);
        if (r < 0)
                return qmp_fail(c, r);
        if (!json_object_is_type(ret, json_type_array))
                return fail(c, -EBADMSG, "query-cpus-fast: reply is not an array");
        n = json_object_array_length(ret);
        if (n == 0)
                return fail(c, -EBADMSG, "query-cpus-fast: the guest has no vCPUs");
        c->m->vcpus = calloc(n, sizeof(*c->m->vcpus));
        if (!c->m->vcpus)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_array_get_idx(ret, i), *props;
                int64_t index, tid, node = 0;

                if (json_member_int64(e, "cpu-index", &index) < 0 || index < 0 || index >= IDSET_MAX)
                        return fail(c, -EBADMSG,
                                    "query-cpus-fast: element %zu: missing or bad \"cpu-index\"", i);
                if (json_member_int64(e, "thread-id", &tid) < 0 || tid <= 0)
                        return fail(c, -EBADMSG,
                                    "query-cpus-fast: element %zu: missing or bad \"thread-id\"", i);
                if (json_member_object(e, "props", &props) == 0) {
                        r = json_member_int64(props, "node-id", &node);
                        if (r == -EBADMSG || node < 0 || node >= IDSET_MAX)
                                return fail(c, -EBADMSG, "query-cpus-fast: element %zu: bad \"node-id\"", i);
                        if (r == -ENOENT)
                                node = 0; /* no vNUMA: everything is node 0 */
                }
                for (unsigned j = 0; j < c->m->n_vcpus; j++)
                        if (c->m->vcpus[j].index == index)
                                return fail(c, -EBADMSG, "query-cpus-fast: duplicate cpu-index %" PRIi64,
                                            index);
                c->m->vcpus[c->m->n_vcpus++] = (struct guest_vcpu){
                        .index = (int)index,
                        .tid = (pid_t)tid,
                        .cell = (int)node,
                };
        }
        qsort(c->m->vcpus, c->m->n_vcpus, sizeof(*c->m->vcpus), cmp_vcpu);
        return 0;
}

/* The QEMU pid is the thread group of its vCPU threads; this works for any transport. */
static int find_pid(struct query_ctx *c)
{
        pid_t pid = 0;

        for (unsigned i = 0; i < c->m->n_vcpus; i++) {
                pid_t tgid;
                int r = proc_tgid_of(c->procfs_root, c->m->vcpus[i].tid, &tgid);

                if (r < 0)
                        return fail(c, r, "/proc/%d/status: cannot read vCPU %d's thread: %s",
                                    (int)c->m->vcpus[i].tid, c->m->vcpus[i].index, strerror(-r));
                if (pid && tgid != pid)
                        return fail(c, -EBADMSG,
                                    "query-cpus-fast: vCPU threads belong to different processes (%d, %d); "
                                    "is the QMP socket served by a QEMU in another PID namespace?",
                                    (int)pid, (int)tgid);
                pid = tgid;
        }
        c->m->pid = pid;
        return 0;
}

static int query_backends(struct query_ctx *c)
{
        _cleanup_json_ struct json_object *memdevs = NULL, *objects = NULL, *args = NULL;
        size_t n;
        int r;

        r = qmp_client_execute(c->qmp, "query-memdev", NULL, &memdevs);
        if (r < 0)
                return qmp_fail(c, r);
        if (!json_object_is_type(memdevs, json_type_array))
                return fail(c, -EBADMSG, "query-memdev: reply is not an array");

        args = json_object_new_object();
        if (!args)
                return -ENOMEM;
        json_object_object_add(args, "path", json_object_new_string("/objects"));
        r = qmp_client_execute(c->qmp, "qom-list", args, &objects);
        if (r < 0)
                return qmp_fail(c, r);
        if (!json_object_is_type(objects, json_type_array))
                return fail(c, -EBADMSG, "qom-list /objects: reply is not an array");

        n = json_object_array_length(memdevs);
        c->backends = calloc(n ?: 1, sizeof(*c->backends));
        if (!c->backends)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_array_get_idx(memdevs, i), *nodes;
                struct backend_info *b = &c->backends[c->n_backends];
                const char *id, *policy;

                if (json_member_string(e, "id", &id) < 0 || !*id)
                        return fail(c, -EBADMSG, "query-memdev: element %zu: missing \"id\"", i);
                if (backend_find(c, id))
                        return fail(c, -EBADMSG, "query-memdev: duplicate id \"%s\"", id);
                if (json_member_uint64(e, "size", &b->size) < 0 || b->size == 0)
                        return fail(c, -EBADMSG, "query-memdev: backend \"%s\": missing or bad \"size\"",
                                    id);
                if (json_member_string(e, "policy", &policy) < 0)
                        return fail(c, -EBADMSG, "query-memdev: backend \"%s\": missing \"policy\"", id);
                if (json_member_bool(e, "prealloc", &b->prealloc) == -EBADMSG)
                        return fail(c, -EBADMSG,
                                    "query-memdev: backend \"%s\": \"prealloc\" is not a boolean", id);
                if (json_member_array(e, "host-nodes", &nodes) == 0)
                        for (size_t k = 0; k < json_object_array_length(nodes); k++) {
                                struct json_object *v = json_object_array_get_idx(nodes, k);
                                if (!json_object_is_type(v, json_type_int) || json_object_get_int(v) < 0 ||
                                    json_object_get_int(v) >= IDSET_MAX)
                                        return fail(c, -EBADMSG,
                                                    "query-memdev: backend \"%s\": bad host-nodes", id);
                                idset_add(&b->host_nodes, json_object_get_int(v));
                        }
                b->kind = BACKEND_KIND_INVALID;
                for (size_t k = 0; k < json_object_array_length(objects); k++) {
                        struct json_object *o = json_object_array_get_idx(objects, k);
                        const char *name, *type;

                        if (json_member_string(o, "name", &name) == 0 && streq(name, id) &&
                            json_member_string(o, "type", &type) == 0)
                                b->kind = backend_kind_from_qom_type(type);
                }
                if (b->kind == BACKEND_KIND_INVALID)
                        return fail(c, -EBADMSG,
                                    "qom-list /objects: backend \"%s\" missing or of unknown type", id);
                b->id = strdup(id);
                b->policy = strdup(policy);
                if (!b->id || !b->policy)
                        return -ENOMEM;
                c->n_backends++;
        }
        return 0;
}

static int query_memory_devices(struct query_ctx *c)
{
        _cleanup_json_ struct json_object *ret = NULL;
        size_t n;
        int r;

        r = qmp_client_execute(c->qmp, "query-memory-devices", NULL, &ret);
        if (r < 0)
                return qmp_fail(c, r);
        if (!json_object_is_type(ret, json_type_array))
                return fail(c, -EBADMSG, "query-memory-devices: reply is not an array");
        n = json_object_array_length(ret);
        c->devices = calloc(n ?: 1, sizeof(*c->devices));
        if (!c->devices)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_array_get_idx(ret, i), *data;
                const char *type, *memdev, *id = NULL;
                int64_t node;

                if (json_member_string(e, "type", &type) < 0 || json_member_object(e, "data", &data) < 0)
                        return fail(c, -EBADMSG, "query-memory-devices: element %zu: missing type or data",
                                    i);
                if (!streq(type, "dimm") && !streq(type, "nvdimm") && !streq(type, "virtio-mem"))
                        continue; /* virtio-pmem, sgx-epc: not guest NUMA RAM */
                if (json_member_string(data, "memdev", &memdev) < 0 || !startswith(memdev, "/objects/"))
                        return fail(c, -EBADMSG, "query-memory-devices: element %zu: bad \"memdev\"", i);
                if (json_member_int64(data, "node", &node) < 0 || node < 0)
                        return fail(c, -EBADMSG, "query-memory-devices: element %zu: bad \"node\"", i);
                (void)json_member_string(data, "id", &id);
                c->devices[c->n_devices].backend = strdup(memdev + strlen("/objects/"));
                c->devices[c->n_devices].id = strdup(id ?: memdev + strlen("/objects/"));
                c->devices[c->n_devices].node = (int)node;
                c->n_devices++;
                if (!c->devices[c->n_devices - 1].backend || !c->devices[c->n_devices - 1].id)
                        return -ENOMEM;
        }
        return 0;
}

static int hmp(struct query_ctx *c, const char *cmd, char **ret)
{
        int r = qmp_client_hmp(c->qmp, cmd, ret);
        return r < 0 ? fail(c, r, "%s: %s", cmd, qmp_client_error_message(c->qmp)) : 0;
}

/* Host address of the backend's first byte: gpa2hva of every guest range it backs must agree. */
static int backend_hva(struct query_ctx *c, const char *backend, uint64_t size, uint64_t *ret)
{
        uint64_t base = 0;
        bool found = false;

        for (size_t i = 0; i < c->mtree->n_ranges; i++) {
                const struct mtree_range *rg = &c->mtree->ranges[i];
                _cleanup_free_ char *text = NULL, *region = NULL;
                char cmd[64];
                uint64_t hva;
                int r;

                if (!streq(rg->name, backend) || !startswith(rg->kind, "ram"))
                        continue;
                if (rg->offset + (rg->last - rg->start) >= size)
                        return fail(c, -EBADMSG,
                                    "info mtree -f: range %#" PRIx64 " of \"%s\" exceeds its size",
                                    rg->start, backend);
                snprintf(cmd, sizeof(cmd), "gpa2hva %#" PRIx64, rg->start);
                r = hmp(c, cmd, &text);
                if (r < 0)
                        return r;
                r = gpa2hva_parse(text, &hva, &region);
                if (r < 0)
                        return fail(c, r, "%s: unexpected reply \"%.80s\"", cmd, text);
                if (!streq(region, backend))
                        return fail(c, -EBADMSG, "%s: reports region \"%s\", info mtree -f says \"%s\"", cmd,
                                    region, backend);
                if (hva < rg->offset)
                        return fail(c, -EBADMSG, "%s: address %#" PRIx64 " below the range offset", cmd,
                                    hva);
                if (found && hva - rg->offset != base)
                        return fail(c, -EBADMSG, "%s: \"%s\" is not one contiguous host mapping", cmd,
                                    backend);
                base = hva - rg->offset;
                found = true;
        }
        if (!found)
                return fail(c, -ENOENT, "info mtree -f: backend \"%s\" is not mapped into the guest",
                            backend);
        *ret = base;
        return 0;
}

static int add_region(struct query_ctx *c, struct guest_cell *cell, const char *backend_id,
                      const char *device_id)
{
        struct backend_info *b = backend_find(c, backend_id);
        struct guest_region *regions, *rg;
        uint64_t hva = 0, page_size = 0;
        int r;

        if (!b)
                return fail(c, -EBADMSG, "query-memdev: backend \"%s\" of guest node %d is missing",
                            backend_id, cell->id);
        r = backend_hva(c, b->id, b->size, &hva);
        if (r < 0)
                return r;
        if (!proc_maps_covers(c->smaps, hva, hva + b->size, &page_size))
                return fail(c, -EBADMSG,
                            "/proc/%d/smaps: backend \"%s\" at %#" PRIx64 "-%#" PRIx64
                            " is not one writable mapping",
                            (int)c->m->pid, b->id, hva, hva + b->size);
        if (page_size == 0)
                page_size = (uint64_t)sysconf(_SC_PAGESIZE);
        if (hva % page_size || b->size % page_size)
                return fail(c, -EBADMSG, "backend \"%s\": not aligned to its page size %" PRIu64, b->id,
                            page_size);

        regions = realloc(cell->regions, (cell->n_regions + 1) * sizeof(*regions));
        if (!regions)
                return -ENOMEM;
        cell->regions = regions;
        rg = &regions[cell->n_regions];
        *rg = (struct guest_region){
                .backend_id = strdup(b->id),
                .device_id = device_id ? strdup(device_id) : NULL,
                .kind = b->kind,
                .size_bytes = b->size,
                .page_size = page_size,
                .policy = strdup(b->policy),
                .host_nodes = b->host_nodes,
                .prealloc = b->prealloc,
                .hva_start = hva,
        };
        cell->n_regions++;
        if (!rg->backend_id || !rg->policy || (device_id && !rg->device_id))
                return -ENOMEM;
        cell->size_bytes += b->size;
        return 0;
}

/* Without -numa, QEMU backs guest RAM with the machine's own backend (e.g. "pc.ram"): the
 * one backend that is no memory device's. */
static const char *implicit_ram_backend(struct query_ctx *c)
{
        const char *found = NULL;

        for (size_t i = 0; i < c->n_backends; i++) {
                bool is_device = false;

                for (size_t d = 0; d < c->n_devices; d++)
                        if (streq(c->devices[d].backend, c->backends[i].id))
                                is_device = true;
                if (is_device || mtree_bytes_of(c->mtree, c->backends[i].id) == 0)
                        continue;
                if (found)
                        return NULL;
                found = c->backends[i].id;
        }
        return found;
}

static int build_cells(struct query_ctx *c)
{
        _cleanup_(info_numa_freep) struct info_numa *numa = NULL;
        _cleanup_(numa_args_freep) struct numa_args *args = NULL;
        _cleanup_free_ char *numa_text = NULL, *mtree_text = NULL;
        unsigned line = 0;
        int r;

        r = hmp(c, "info mtree -f", &mtree_text);
        if (r < 0)
                return r;
        r = mtree_parse(mtree_text, &c->mtree, &line);
        if (r == -EBADMSG)
                return fail(c, r, "info mtree -f: malformed line %u", line);
        if (r < 0)
                return fail(c, r, "info mtree -f: no flat view of address space \"memory\"");
        r = hmp(c, "info numa", &numa_text);
        if (r < 0)
                return r;
        r = info_numa_parse(numa_text, &numa);
        if (r < 0)
                return fail(c, r, "info numa: unexpected reply \"%.80s\"", numa_text);
        r = numa_args_read(c->procfs_root, c->m->pid, &args);
        if (r < 0)
                return fail(c, r, "/proc/%d/cmdline: %s", (int)c->m->pid,
                            r == -EBADMSG ? "malformed -numa node argument" : strerror(-r));
        r = proc_maps_read(c->procfs_root, c->m->pid, true, &c->smaps);
        if (r < 0)
                return fail(c, r, "/proc/%d/smaps: %s", (int)c->m->pid, strerror(-r));

        unsigned n_cells = numa->n_nodes ?: 1;
        c->m->cells = calloc(n_cells, sizeof(*c->m->cells));
        if (!c->m->cells)
                return -ENOMEM;

        for (unsigned i = 0; i < n_cells; i++) {
                struct guest_cell *cell = &c->m->cells[c->m->n_cells++];
                const char *memdev;
                uint64_t expect_mb;

                cell->id = numa->n_nodes ? numa->nodes[i].id : 0;
                if (numa->n_nodes) {
                        memdev = numa_args_memdev(args, cell->id);
                        if (!memdev)
                                return fail(c, -EOPNOTSUPP,
                                            "/proc/%d/cmdline: guest node %d has no memdev=; vnumad needs "
                                            "-numa node,memdev=ID",
                                            (int)c->m->pid, cell->id);
                } else {
                        memdev = implicit_ram_backend(c);
                        if (!memdev)
                                return fail(c, -EBADMSG,
                                            "query-memdev: cannot tell which backend is guest RAM");
                }
                r = add_region(c, cell, memdev, NULL);
                if (r < 0)
                        return r;
                for (size_t d = 0; d < c->n_devices; d++)
                        if (c->devices[d].node == cell->id) {
                                r = add_region(c, cell, c->devices[d].backend, c->devices[d].id);
                                if (r < 0)
                                        return r;
                        }
                for (unsigned v = 0; v < c->m->n_vcpus; v++)
                        if (c->m->vcpus[v].cell == cell->id)
                                idset_add(&cell->vcpus, c->m->vcpus[v].index);

                /* Cross-check: QEMU's own view of the node size, in whole MiB. */
                expect_mb = numa->n_nodes ? numa->nodes[i].size_bytes >> 20 : cell->size_bytes >> 20;
                if (expect_mb != cell->size_bytes >> 20)
                        return fail(c, -EBADMSG,
                                    "info numa: node %d is %" PRIu64
                                    " MiB, but its backends add up to %" PRIu64 " MiB",
                                    cell->id, expect_mb, cell->size_bytes >> 20);
        }
        for (unsigned v = 0; v < c->m->n_vcpus; v++)
                if (guest_model_cell_index(c->m, c->m->vcpus[v].cell) < 0)
                        return fail(c, -EBADMSG,
                                    "query-cpus-fast: vCPU %d is in guest node %d, which info numa lacks",
                                    c->m->vcpus[v].index, c->m->vcpus[v].cell);
        return 0;
}

static int query_threads(struct query_ctx *c)
{
        _cleanup_json_ struct json_object *iothreads = NULL;
        _cleanup_free_ pid_t *tids = NULL;
        size_t n_tids;
        int r;

        r = qmp_client_execute(c->qmp, "query-iothreads", NULL, &iothreads);
        if (r < 0)
                return qmp_fail(c, r);
        if (!json_object_is_type(iothreads, json_type_array))
                return fail(c, -EBADMSG, "query-iothreads: reply is not an array");
        r = proc_task_list(c->procfs_root, c->m->pid, &tids, &n_tids);
        if (r < 0)
                return fail(c, r, "/proc/%d/task: %s", (int)c->m->pid, strerror(-r));
        c->m->threads = calloc(n_tids, sizeof(*c->m->threads));
        if (!c->m->threads)
                return -ENOMEM;
        for (size_t i = 0; i < n_tids; i++) {
                struct guest_thread *t = &c->m->threads[c->m->n_threads];
                struct task_placement tp;
                bool is_vcpu = false;

                for (unsigned v = 0; v < c->m->n_vcpus; v++)
                        if (c->m->vcpus[v].tid == tids[i])
                                is_vcpu = true;
                if (is_vcpu)
                        continue;
                t->tid = tids[i];
                t->kind = GUEST_THREAD_EMULATOR;
                for (size_t k = 0; k < json_object_array_length(iothreads); k++) {
                        struct json_object *e = json_object_array_get_idx(iothreads, k);
                        int64_t tid;
                        const char *id;

                        if (json_member_int64(e, "thread-id", &tid) == 0 && tid == tids[i] &&
                            json_member_string(e, "id", &id) == 0) {
                                t->kind = GUEST_THREAD_IOTHREAD;
                                t->name = strdup(id);
                        }
                }
                if (!t->name && proc_task_placement_read(c->procfs_root, c->m->pid, tids[i], &tp) >= 0)
                        t->name = strdup(tp.comm);
                if (!t->name)
                        t->name = strdup("?"); /* the thread exited between listing and reading */
                if (!t->name)
                        return -ENOMEM;
                c->m->n_threads++;
        }
        for (unsigned v = 0; v < c->m->n_vcpus; v++) {
                bool listed = false;
                for (size_t i = 0; i < n_tids; i++)
                        listed = listed || tids[i] == c->m->vcpus[v].tid;
                if (!listed)
                        return fail(c, -EBADMSG, "/proc/%d/task: vCPU %d thread %d is not a thread of QEMU",
                                    (int)c->m->pid, c->m->vcpus[v].index, (int)c->m->vcpus[v].tid);
        }
        return 0;
}

int guest_model_query(struct qmp_client *qmp, const char *procfs_root, struct guest_model **ret,
                      char **ret_error)
{
        struct query_ctx c = {
                .qmp = qmp,
                .procfs_root = procfs_root ?: "/proc",
                .ret_error = ret_error,
        };
        int r;

        if (ret_error)
                *ret_error = NULL;
        c.m = calloc(1, sizeof(*c.m));
        if (!c.m)
                return -ENOMEM;
        qmp_client_version(qmp, &c.m->qemu_major, &c.m->qemu_minor, &c.m->qemu_micro);
        query_version(&c);

        r = query_name(&c);
        if (r >= 0)
                r = query_vcpus(&c);
        if (r >= 0)
                r = find_pid(&c);
        if (r >= 0)
                r = query_backends(&c);
        if (r >= 0)
                r = query_memory_devices(&c);
        if (r >= 0)
                r = build_cells(&c);
        if (r >= 0)
                r = query_threads(&c);
        if (r >= 0)
                *ret = TAKE_PTR(c.m);
        else if (r == -ENOMEM && ret_error && !*ret_error)
                fail(&c, r, "out of memory"); /* a step's own message says more */
        ctx_done(&c);
        return r;
}
