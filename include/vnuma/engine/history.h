/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A fixed-size ring of the last actions applied to one VM. */

#include <stddef.h>
#include <stdint.h>

#include "vnuma/engine/engine.h"

struct history_ring {
        uint64_t vm_id;
        size_t size; /* capacity */
        size_t n;    /* entries held, <= size */
        size_t head; /* next slot to write */
        struct history_entry *entries;
};

int history_ring_init(struct history_ring *r, uint64_t vm_id, size_t size);
void history_ring_done(struct history_ring *r);
void history_ring_push(struct history_ring *r, const struct history_entry *e);
/* Oldest first; returns how many were copied. */
size_t history_ring_copy(const struct history_ring *r, struct history_entry *out, size_t n);
