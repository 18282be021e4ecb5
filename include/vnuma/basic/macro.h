/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Small language helpers shared by every module: cleanup attributes, array sizes, min/max. */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f)         __attribute__((cleanup(f)))
#define _unused_             __attribute__((unused))
#define _printf_(a, b)       __attribute__((format(printf, a, b)))
#define _warn_unused_result_ __attribute__((warn_unused_result))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* Unique local names, so MIN(MIN(a, b), c) does not shadow. */
#define XCONCATENATE(x, y) x##y
#define CONCATENATE(x, y)  XCONCATENATE(x, y)
#define UNIQ_T(x, uniq)    CONCATENATE(__unique_prefix_, CONCATENATE(x, uniq))

#define __MIN(aq, a, bq, b)                                                    \
        ({                                                                     \
                const __typeof__(a) UNIQ_T(A, aq) = (a);                       \
                const __typeof__(b) UNIQ_T(B, bq) = (b);                       \
                UNIQ_T(A, aq) < UNIQ_T(B, bq) ? UNIQ_T(A, aq) : UNIQ_T(B, bq); \
        })
#define __MAX(aq, a, bq, b)                                                    \
        ({                                                                     \
                const __typeof__(a) UNIQ_T(A, aq) = (a);                       \
                const __typeof__(b) UNIQ_T(B, bq) = (b);                       \
                UNIQ_T(A, aq) > UNIQ_T(B, bq) ? UNIQ_T(A, aq) : UNIQ_T(B, bq); \
        })
#define MIN(a, b) __MIN(__COUNTER__, a, __COUNTER__, b)
#define MAX(a, b) __MAX(__COUNTER__, a, __COUNTER__, b)

/* Hand ownership of a pointer out of a _cleanup_ variable. */
#define TAKE_PTR(p)                     \
        ({                              \
                __typeof__(p) _p = (p); \
                (p) = NULL;             \
                _p;                     \
        })

#define TAKE_FD(fd)             \
        ({                      \
                int _fd = (fd); \
                (fd) = -1;      \
                _fd;            \
        })

static inline void freep(void *p)
{
        free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Define a cleanup helper `namep(type **)` that calls `name(type *)`, which must accept NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func) \
        static inline void func##p(type *p)     \
        {                                       \
                func(*p);                       \
        }

static inline bool streq(const char *a, const char *b)
{
        return strcmp(a, b) == 0;
}

static inline bool streq_ptr(const char *a, const char *b)
{
        if (!a || !b)
                return a == b;
        return streq(a, b);
}

static inline bool startswith(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

static inline const char *strna(const char *s)
{
        return s ?: "n/a";
}

static inline const char *strempty(const char *s)
{
        return s ?: "";
}

/* errno as a negative return, never 0 even if a libc call forgot to set it. */
static inline int negative_errno(void)
{
        return errno > 0 ? -errno : -EIO;
}
