/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sampler's per-VM state between periods: found by VM id, created or brought in line with
 * the guest model (chunk maps per cell, vCPU baselines), and freed. */
#include <stdlib.h>

#include "sampler-internal.h"

void sampler_vm_state_done(struct sampler_vm_state *vs)
{
        for (unsigned c = 0; c < vs->n_cells; c++)
                chunk_map_done(&vs->maps[c]);
        free(vs->maps);
        free(vs->cell_ids);
        free(vs->vcpus);
        *vs = (struct sampler_vm_state){};
}

struct sampler_vm_state *sampler_find_vm(const struct sampler *s, uint64_t id)
{
        for (size_t i = 0; i < s->n_vms; i++)
                if (s->vms[i].id == id)
                        return &s->vms[i];
        return NULL;
}

static uint64_t cell_bytes(const struct guest_cell *c)
{
        uint64_t sum = 0;

        for (unsigned i = 0; i < c->n_regions; i++)
                sum += c->regions[i].size_bytes;
        return sum;
}

/* Brings the cell maps in line with the model: a cell with another id, size or chunk size
 * starts over; the others keep their map and cursor. */
static int vm_state_sync_cells(struct sampler *s, struct sampler_vm_state *vs, const struct guest_model *m)
{
        struct chunk_map *maps = NULL;
        int *ids = NULL;
        int r = 0;

        if (vs->n_cells == m->n_cells) {
                for (unsigned c = 0; c < m->n_cells; c++) {
                        const struct guest_cell *gc = &m->cells[c];
                        uint64_t chunk = cell_chunk_bytes(gc, s->chunk_bytes);

                        if (vs->cell_ids[c] == gc->id && vs->maps[c].size_bytes == cell_bytes(gc) &&
                            vs->maps[c].chunk_bytes == chunk)
                                continue;
                        chunk_map_done(&vs->maps[c]);
                        r = chunk_map_init(&vs->maps[c], cell_bytes(gc), chunk);
                        if (r < 0)
                                return r;
                        vs->cell_ids[c] = gc->id;
                }
                return 0;
        }

        maps = calloc(MAX(m->n_cells, 1u), sizeof(*maps));
        ids = calloc(MAX(m->n_cells, 1u), sizeof(*ids));
        if (!maps || !ids) {
                free(maps);
                free(ids);
                return -ENOMEM;
        }
        for (unsigned c = 0; c < m->n_cells && r >= 0; c++) {
                r = chunk_map_init(&maps[c], cell_bytes(&m->cells[c]),
                                   cell_chunk_bytes(&m->cells[c], s->chunk_bytes));
                ids[c] = m->cells[c].id;
        }
        if (r < 0) {
                for (unsigned c = 0; c < m->n_cells; c++)
                        chunk_map_done(&maps[c]);
                free(maps);
                free(ids);
                return r;
        }
        for (unsigned c = 0; c < vs->n_cells; c++)
                chunk_map_done(&vs->maps[c]);
        free(vs->maps);
        free(vs->cell_ids);
        vs->maps = maps;
        vs->cell_ids = ids;
        vs->n_cells = m->n_cells;
        return 0;
}

static int vm_state_sync_vcpus(struct sampler_vm_state *vs, const struct guest_model *m)
{
        struct sampler_vcpu_state *v;

        if (vs->n_vcpus == m->n_vcpus)
                return 0;
        v = calloc(MAX(m->n_vcpus, 1u), sizeof(*v));
        if (!v)
                return -ENOMEM;
        free(vs->vcpus);
        vs->vcpus = v;
        vs->n_vcpus = m->n_vcpus;
        return 0;
}

int sampler_vm_state_get(struct sampler *s, uint64_t id, const struct guest_model *m,
                         struct sampler_vm_state **ret)
{
        struct sampler_vm_state *vs = sampler_find_vm(s, id);
        int r;

        if (vs && vs->pid != m->pid)
                sampler_vm_state_done(vs); /* another QEMU under the same id: nothing carries over */
        if (!vs) {
                struct sampler_vm_state *p = realloc(s->vms, (s->n_vms + 1) * sizeof(*p));

                if (!p)
                        return -ENOMEM;
                s->vms = p;
                vs = &s->vms[s->n_vms++];
                *vs = (struct sampler_vm_state){};
        }
        vs->id = id;
        vs->pid = m->pid;
        r = vm_state_sync_cells(s, vs, m);
        if (r >= 0)
                r = vm_state_sync_vcpus(vs, m);
        if (r < 0)
                return r;
        *ret = vs;
        return 0;
}
