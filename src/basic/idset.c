/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vnuma/basic/idset.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int idset_count(const struct idset *s)
{
        int n = 0;
        for (size_t i = 0; i < IDSET_MAX / 64; i++)
                n += __builtin_popcountll(s->w[i]);
        return n;
}

bool idset_is_empty(const struct idset *s)
{
        for (size_t i = 0; i < IDSET_MAX / 64; i++)
                if (s->w[i])
                        return false;
        return true;
}

bool idset_equal(const struct idset *a, const struct idset *b)
{
        for (size_t i = 0; i < IDSET_MAX / 64; i++)
                if (a->w[i] != b->w[i])
                        return false;
        return true;
}

int idset_next(const struct idset *s, int from)
{
        if (from < 0)
                from = 0;
        for (int i = from / 64; i < IDSET_MAX / 64; i++) {
                uint64_t w = s->w[i];
                if (i == from / 64)
                        w &= ~UINT64_C(0) << (from % 64);
                if (w)
                        return i * 64 + __builtin_ctzll(w);
        }
        return -1;
}

void idset_or(struct idset *dst, const struct idset *src)
{
        for (size_t i = 0; i < IDSET_MAX / 64; i++)
                dst->w[i] |= src->w[i];
}

void idset_and(struct idset *dst, const struct idset *src)
{
        for (size_t i = 0; i < IDSET_MAX / 64; i++)
                dst->w[i] &= src->w[i];
}

static int parse_id(const char **p, int *ret)
{
        char *end;
        long v;

        if (!isdigit((unsigned char)**p))
                return -EINVAL;
        errno = 0;
        v = strtol(*p, &end, 10);
        if (errno == ERANGE || v >= IDSET_MAX)
                return -ERANGE;
        *p = end;
        *ret = (int)v;
        return 0;
}

int idset_parse(const char *text, struct idset *ret)
{
        struct idset s = IDSET_EMPTY;
        const char *p = text;
        int r;

        while (*p == ' ' || *p == '\t')
                p++;
        while (*p && *p != '\n') {
                int a, b;

                r = parse_id(&p, &a);
                if (r < 0)
                        return r;
                b = a;
                if (*p == '-') {
                        p++;
                        r = parse_id(&p, &b);
                        if (r < 0)
                                return r;
                        if (b < a)
                                return -EINVAL;
                }
                for (int i = a; i <= b; i++)
                        idset_add(&s, i);
                if (*p == ',') {
                        p++;
                        if (!isdigit((unsigned char)*p))
                                return -EINVAL;
                } else if (*p && *p != '\n')
                        return -EINVAL;
        }
        if (*p == '\n' && p[1] != '\0')
                return -EINVAL;

        *ret = s;
        return 0;
}

int idset_format(const struct idset *s, char *buf, size_t size)
{
        size_t off = 0;
        int id = idset_next(s, 0);

        if (size == 0)
                return -ENOBUFS;
        buf[0] = '\0';
        while (id >= 0) {
                int last = id;
                int n;

                while (idset_test(s, last + 1))
                        last++;
                if (last == id)
                        n = snprintf(buf + off, size - off, "%s%d", off ? "," : "", id);
                else
                        n = snprintf(buf + off, size - off, "%s%d-%d", off ? "," : "", id, last);
                if (n < 0 || (size_t)n >= size - off)
                        return -ENOBUFS;
                off += (size_t)n;
                id = idset_next(s, last + 1);
        }
        return 0;
}
