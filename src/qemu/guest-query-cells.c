/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* guest_model_query()'s cells: which backends make up each guest node (the QEMU command line,
 * memory devices), where each lies in QEMU (info mtree -f, gpa2hva, /proc/PID/smaps), and a
 * cross-check of the sizes against info numa. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest-query-internal.h"
#include "vnuma/host/proc-maps.h"
#include "vnuma/host/region-sharing.h"
#include "vnuma/qemu/hmp-parse.h"
#include "vnuma/qemu/mtree.h"
#include "vnuma/qemu/qemu-cmdline.h"

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
        unsigned n_ranges = 0;

        for (size_t i = 0; i < c->mtree->n_ranges; i++) {
                const struct mtree_range *rg = &c->mtree->ranges[i];
                _cleanup_free_ char *text = NULL, *region = NULL;
                char cmd[64];
                uint64_t hva;
                int r;

                if (!streq(rg->name, backend) || !startswith(rg->kind, "ram"))
                        continue;
                if (++n_ranges > GUEST_MAX_BACKEND_RANGES)
                        return fail(c, -E2BIG,
                                    "info mtree -f: \"%s\" is mapped at more than %d guest ranges", backend,
                                    GUEST_MAX_BACKEND_RANGES);
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
        struct backend_info *b = guest_query_backend_find(c, backend_id);
        struct guest_region *regions, *rg;
        uint64_t hva = 0, page_size = 0, base_page = (uint64_t)sysconf(_SC_PAGESIZE);
        enum region_sharing sharing = REGION_PRIVATE;
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
                page_size = base_page;
        /* Who else maps it, from the kernel's view: it decides MOVE or MOVE_ALL (vnumad(8)). */
        r = proc_maps_sharing(c->smaps, hva, hva + b->size, base_page, &sharing);
        if (r < 0)
                return fail(c, r, "/proc/%d/smaps: backend \"%s\": cannot tell its sharing", (int)c->m->pid,
                            b->id);
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
                .sharing = sharing,
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

int guest_query_cells(struct query_ctx *c)
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
        if (r == -E2BIG)
                return fail(c, r, "info mtree -f: more than %u lines or %u ranges, more than vnumad accepts",
                            MTREE_MAX_LINES, MTREE_MAX_RANGES);
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
        if (n_cells > GUEST_MAX_CELLS)
                return fail_too_many(c, "info numa", n_cells, GUEST_MAX_CELLS);
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
