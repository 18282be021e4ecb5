/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* splitmix64: tiny, seedable, good enough for scenario generation. */

#include <stdint.h>

static inline uint64_t sim_rng_next(uint64_t *state)
{
        uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double sim_rng_unit(uint64_t *state)
{
        return (double)(sim_rng_next(state) >> 11) / 9007199254740992.0;
}

/* Uniform in [lo, hi]. */
static inline unsigned sim_rng_range(uint64_t *state, unsigned lo, unsigned hi)
{
        return lo + (unsigned)(sim_rng_next(state) % (uint64_t)(hi - lo + 1));
}
