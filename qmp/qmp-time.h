/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Deadlines for the QMP client and transports (internal). A negative timeout means "no
 * limit", as with poll(2). */

#include <limits.h>
#include <stdint.h>
#include <time.h>

#define QMP_NO_DEADLINE UINT64_MAX

static inline uint64_t qmp_now_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static inline uint64_t qmp_deadline(int timeout_ms)
{
        if (timeout_ms < 0)
                return QMP_NO_DEADLINE;
        return qmp_now_usec() + (uint64_t)timeout_ms * 1000u;
}

/* Milliseconds left until deadline for poll(2): -1 for none, 0 once passed; rounded up so a
 * wait never ends just before its deadline. */
static inline int qmp_remaining_ms(uint64_t deadline)
{
        uint64_t now, left;

        if (deadline == QMP_NO_DEADLINE)
                return -1;
        now = qmp_now_usec();
        if (now >= deadline)
                return 0;
        left = (deadline - now + 999) / 1000;
        return left > INT_MAX ? INT_MAX : (int)left;
}
