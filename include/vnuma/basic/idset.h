/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A fixed-size set of small non-negative ids: host CPUs, host nodes, vCPU indexes.
 * Value semantics (no allocation) so snapshots can copy it freely. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IDSET_MAX 1024

struct idset {
        uint64_t w[IDSET_MAX / 64];
};

#define IDSET_EMPTY ((struct idset){{0}})

static inline bool idset_test(const struct idset *s, int id)
{
        return id >= 0 && id < IDSET_MAX && (s->w[id / 64] >> (id % 64)) & 1;
}

static inline void idset_add(struct idset *s, int id)
{
        if (id >= 0 && id < IDSET_MAX)
                s->w[id / 64] |= UINT64_C(1) << (id % 64);
}

static inline void idset_del(struct idset *s, int id)
{
        if (id >= 0 && id < IDSET_MAX)
                s->w[id / 64] &= ~(UINT64_C(1) << (id % 64));
}

int idset_count(const struct idset *s);
bool idset_is_empty(const struct idset *s);
bool idset_equal(const struct idset *a, const struct idset *b);
/* Lowest member >= from, or -1. */
int idset_next(const struct idset *s, int from);
void idset_or(struct idset *dst, const struct idset *src);
void idset_and(struct idset *dst, const struct idset *src);

#define IDSET_FOREACH(id, s) for (int id = idset_next((s), 0); id >= 0; id = idset_next((s), id + 1))

/* Linux list format: "0-3,8,10-11". Empty string or "\n" is the empty set.
 * -EINVAL on syntax, -ERANGE on an id >= IDSET_MAX. */
int idset_parse(const char *text, struct idset *ret);
/* Same format, "" for the empty set. Writes at most size bytes including NUL; -ENOBUFS if short. */
int idset_format(const struct idset *s, char *buf, size_t size);
