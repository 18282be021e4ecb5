/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Scan window, chunk map and cell geometry of the residency sampler (pure code). */
#include "sampler-window.h"

#include <errno.h>
#include <stdlib.h>

#include "vnuma/basic/macro.h"

static bool is_pow2(uint64_t x)
{
        return x && !(x & (x - 1));
}

static uint64_t div_round_up(uint64_t a, uint64_t b)
{
        return a / b + (a % b != 0);
}

static uint64_t clamp_u64(uint64_t v, uint64_t lo, uint64_t hi)
{
        return v < lo ? lo : v > hi ? hi : v;
}

void scan_window_next(uint64_t n_chunks, uint64_t cursor, uint64_t want, struct scan_window *ret)
{
        if (n_chunks == 0) {
                *ret = (struct scan_window){};
                return;
        }
        if (cursor >= n_chunks)
                cursor = 0;
        want = clamp_u64(want, 1, n_chunks);
        *ret = (struct scan_window){
                .first = cursor,
                .n = want,
                .next = (cursor + want) % n_chunks,
                .wrapped = cursor + want > n_chunks,
        };
}

uint64_t scan_window_share(uint64_t window_bytes, uint64_t vm_bytes, uint64_t cell_bytes,
                           uint64_t chunk_bytes)
{
        uint64_t n_chunks, share;

        if (chunk_bytes == 0 || cell_bytes == 0)
                return 0;
        n_chunks = div_round_up(cell_bytes, chunk_bytes);
        if (vm_bytes <= cell_bytes)
                share = window_bytes;
        else /* window * cell / vm without overflowing for TiB-sized guests */
                share = (uint64_t)((unsigned __int128)window_bytes * cell_bytes / vm_bytes);
        return clamp_u64(div_round_up(share, chunk_bytes), 1, n_chunks);
}

int chunk_map_init(struct chunk_map *m, uint64_t size_bytes, uint64_t chunk_bytes)
{
        _cleanup_free_ int16_t *node = NULL;
        _cleanup_free_ uint64_t *present = NULL;
        uint64_t n;

        if (!is_pow2(chunk_bytes))
                return -EINVAL;
        n = div_round_up(size_bytes, chunk_bytes);
        if (n > SIZE_MAX / sizeof(uint64_t))
                return -E2BIG;
        node = malloc(MAX(n, (uint64_t)1) * sizeof(*node));
        present = calloc(MAX(n, (uint64_t)1), sizeof(*present));
        if (!node || !present)
                return -ENOMEM;
        for (uint64_t i = 0; i < n; i++)
                node[i] = CHUNK_NODE_UNKNOWN;
        *m = (struct chunk_map){
                .size_bytes = size_bytes,
                .chunk_bytes = chunk_bytes,
                .n_chunks = n,
                .node = TAKE_PTR(node),
                .present = TAKE_PTR(present),
                .unknown_bytes = size_bytes,
        };
        return 0;
}

void chunk_map_done(struct chunk_map *m)
{
        if (!m)
                return;
        free(m->node);
        free(m->present);
        *m = (struct chunk_map){};
}

uint64_t chunk_map_chunk_len(const struct chunk_map *m, uint64_t idx)
{
        uint64_t start = idx * m->chunk_bytes;

        if (idx >= m->n_chunks)
                return 0;
        return MIN(m->chunk_bytes, m->size_bytes - start);
}

void chunk_summarize(const struct residency *r, int *ret_node, uint64_t *ret_present)
{
        int best = CHUNK_NODE_NONE;

        for (int i = 0; i < RESIDENCY_MAX_NODES; i++)
                if (r->node_bytes[i] > 0 && (best < 0 || r->node_bytes[i] > r->node_bytes[best]))
                        best = i;
        *ret_node = best;
        *ret_present = residency_present_bytes(r);
}

void chunk_map_set(struct chunk_map *m, uint64_t idx, int node, uint64_t present)
{
        int old;

        if (idx >= m->n_chunks)
                return;
        old = m->node[idx];
        if (old == CHUNK_NODE_UNKNOWN)
                m->unknown_bytes -= chunk_map_chunk_len(m, idx);
        else if (old >= 0)
                m->node_bytes[old] -= m->present[idx];
        if (node < 0 || node >= RESIDENCY_MAX_NODES || present == 0) {
                node = CHUNK_NODE_NONE;
                present = 0;
        }
        m->node[idx] = (int16_t)node;
        m->present[idx] = present;
        if (node >= 0)
                m->node_bytes[node] += present;
}

uint64_t chunk_map_note_moved(struct chunk_map *m, uint64_t offset, uint64_t bytes, int node)
{
        uint64_t end, changed = 0;

        if (node < 0 || node >= RESIDENCY_MAX_NODES || m->chunk_bytes == 0 || offset >= m->size_bytes)
                return 0;
        end = bytes > m->size_bytes - offset ? m->size_bytes : offset + bytes;
        for (uint64_t idx = offset / m->chunk_bytes; idx < m->n_chunks && idx * m->chunk_bytes < end;
             idx++) {
                uint64_t cs = idx * m->chunk_bytes, ce = cs + chunk_map_chunk_len(m, idx);
                uint64_t lo = MAX(cs, offset), hi = MIN(ce, end), covered = hi - lo;

                if (m->node[idx] < 0 || m->node[idx] == node || covered * 2 < ce - cs)
                        continue;
                chunk_map_set(m, idx, node, m->present[idx]);
                changed++;
        }
        return changed;
}

uint64_t chunk_map_not_present_bytes(const struct chunk_map *m)
{
        uint64_t present = 0;

        for (int i = 0; i < RESIDENCY_MAX_NODES; i++)
                present += m->node_bytes[i];
        return m->size_bytes - present;
}

uint64_t cell_chunk_bytes(const struct guest_cell *c, uint64_t chunk_bytes)
{
        for (unsigned i = 0; i < c->n_regions; i++)
                chunk_bytes = MAX(chunk_bytes, c->regions[i].page_size);
        return chunk_bytes;
}

static uint64_t round_up(uint64_t x, uint64_t align)
{
        return (x + align - 1) / align * align;
}

int cell_for_each_piece(const struct guest_cell *c, uint64_t offset, uint64_t length,
                        int (*fn)(const struct cell_piece *p, void *userdata), void *userdata)
{
        uint64_t region_start = 0, end = offset + length;

        for (unsigned i = 0; i < c->n_regions && region_start < end; i++) {
                const struct guest_region *rg = &c->regions[i];
                uint64_t region_end = region_start + rg->size_bytes, page = rg->page_size ?: 4096;
                uint64_t a, b;
                int r;

                if (region_end > offset) {
                        /* Page-align inside the region: a page goes with the range holding its start. */
                        a = round_up(MAX(offset, region_start) - region_start, page);
                        uint64_t rel_end = MIN(end, region_end) - region_start;

                        b = MIN(round_up(rel_end, page), rg->size_bytes);
                        if (a < b) {
                                struct cell_piece p = {
                                        .hva = rg->hva_start + a,
                                        .length = b - a,
                                        .page_size = page,
                                };
                                r = fn(&p, userdata);
                                if (r < 0)
                                        return r;
                        }
                }
                region_start = region_end;
        }
        return 0;
}
