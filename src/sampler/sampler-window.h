/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Pure pieces of the residency sampler: the scan window that walks a guest cell a little each
 * period (the way task_numa_work walks mm->numa_scan_offset), the per-chunk map it keeps up to
 * date, and the translation of cell offsets into host virtual address ranges. No I/O here. */

#include <stdbool.h>
#include <stdint.h>

#include "vnuma/host/residency.h"
#include "vnuma/model/guest.h"

/* ---- Scan window ---- */

struct scan_window {
        uint64_t first; /* first chunk index */
        uint64_t n;     /* chunks in the window; index (first + i) % n_chunks */
        uint64_t next;  /* cursor for the next period */
        bool wrapped;   /* the window ran past the last chunk and went on from chunk 0 */
};

/* The window of want chunks starting at cursor, over a cell of n_chunks chunks. Unlike the
 * kernel, which ends a pass short at the end of the address space, the window carries on from
 * chunk 0 so every period costs the same and coverage stays even. want is clamped to
 * [1, n_chunks]; a cursor past the end starts over at 0. n_chunks == 0 gives an empty window. */
void scan_window_next(uint64_t n_chunks, uint64_t cursor, uint64_t want, struct scan_window *ret);

/* How many chunks of a cell one period scans: the VM's window_bytes shared among its cells in
 * proportion to their size, rounded up to whole chunks, at least one, at most the whole cell. */
uint64_t scan_window_share(uint64_t window_bytes, uint64_t vm_bytes, uint64_t cell_bytes,
                           uint64_t chunk_bytes);

/* ---- Chunk map ---- */

#define CHUNK_NODE_NONE    (-1) /* seen, nothing present */
#define CHUNK_NODE_UNKNOWN (-2) /* not scanned yet */

/* Where each chunk of one cell lives, as of the last time the window passed over it.
 * A chunk is summarised by the host node holding the majority of its present pages and its
 * present byte count. Running totals per node are kept so reading them is O(1), not O(cell). */
struct chunk_map {
        uint64_t size_bytes;
        uint64_t chunk_bytes;
        uint64_t n_chunks;
        int16_t *node;                            /* kernel node id, or CHUNK_NODE_* */
        uint64_t *present;                        /* present bytes of the chunk */
        uint64_t node_bytes[RESIDENCY_MAX_NODES]; /* totals by kernel node id */
        uint64_t unknown_bytes;                   /* length of never-scanned chunks */
        uint64_t cursor;                          /* next chunk the window starts at */
};

/* All chunks start unknown. -EINVAL unless chunk_bytes is a power of two. */
int chunk_map_init(struct chunk_map *m, uint64_t size_bytes, uint64_t chunk_bytes);
void chunk_map_done(struct chunk_map *m);

/* Length of chunk idx (the last one may be short). */
uint64_t chunk_map_chunk_len(const struct chunk_map *m, uint64_t idx);

/* Summary of one scanned chunk: majority node (lowest id on a tie; CHUNK_NODE_NONE if nothing
 * is present) and present bytes. Node ids >= RESIDENCY_MAX_NODES cannot be told apart by
 * residency_scan and count as not present. */
void chunk_summarize(const struct residency *r, int *ret_node, uint64_t *ret_present);

/* Records a chunk's new state and updates the totals. */
void chunk_map_set(struct chunk_map *m, uint64_t idx, int node, uint64_t present);

/* Actuator feedback: the bytes [offset, offset + bytes) now sit on node. A chunk whose range is
 * at least half covered takes the new node; its present byte count stays (moving does not
 * populate), unknown and empty chunks stay as they are. Returns how many chunks changed. */
uint64_t chunk_map_note_moved(struct chunk_map *m, uint64_t offset, uint64_t bytes, int node);

/* Cell bytes not known to be present: everything but the per-node totals. That includes
 * chunks the window has not reached yet (chunk_map.unknown_bytes tells how much). */
uint64_t chunk_map_not_present_bytes(const struct chunk_map *m);

/* ---- Cell geometry ---- */

/* One host-contiguous piece of a cell range. */
struct cell_piece {
        uint64_t hva;
        uint64_t length;
        uint64_t page_size;
};

/* Chunk size a cell can be scanned at: chunk_bytes, raised to the largest page size of its
 * regions (a 1 GiB hugetlb page cannot be split into 2 MiB chunks). Both are powers of two. */
uint64_t cell_chunk_bytes(const struct guest_cell *c, uint64_t chunk_bytes);

/* Calls fn for each piece of the cell range [offset, offset + length): cell offsets run over the
 * regions in order (regions[0], then the hot-plugged ones). A page belongs to the range that
 * holds its first byte, so pieces are page-aligned in their region and no page is counted in two
 * chunks. Stops at and returns the first negative value fn returns. */
int cell_for_each_piece(const struct guest_cell *c, uint64_t offset, uint64_t length,
                        int (*fn)(const struct cell_piece *p, void *userdata), void *userdata);
