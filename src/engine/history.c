/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Per-VM ring of applied actions: bounded memory, oldest dropped first. */
#include "vnuma/engine/history.h"

#include <errno.h>
#include <stdlib.h>

int history_ring_init(struct history_ring *r, uint64_t vm_id, size_t size)
{
        struct history_entry *e;

        if (size == 0)
                return -EINVAL;
        e = calloc(size, sizeof(*e));
        if (!e)
                return -ENOMEM;
        *r = (struct history_ring){.vm_id = vm_id, .size = size, .entries = e};
        return 0;
}

void history_ring_done(struct history_ring *r)
{
        if (!r)
                return;
        free(r->entries);
        *r = (struct history_ring){};
}

void history_ring_push(struct history_ring *r, const struct history_entry *e)
{
        r->entries[r->head] = *e;
        r->head = (r->head + 1) % r->size;
        if (r->n < r->size)
                r->n++;
}

size_t history_ring_copy(const struct history_ring *r, struct history_entry *out, size_t n)
{
        size_t start = (r->head + r->size - r->n) % r->size;
        size_t k;

        for (k = 0; k < n && k < r->n; k++)
                out[k] = r->entries[(start + k) % r->size];
        return k;
}
