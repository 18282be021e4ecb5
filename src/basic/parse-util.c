/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vnuma/basic/parse-util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int parse_u64_base(const char *s, int base, uint64_t *ret)
{
        char *end;
        unsigned long long v;

        if (!s || !isxdigit((unsigned char)*s))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, base);
        if (errno == ERANGE)
                return -ERANGE;
        if (end == s || *end != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

int safe_atou64(const char *s, uint64_t *ret)
{
        if (!s || !isdigit((unsigned char)*s))
                return -EINVAL;
        return parse_u64_base(s, 10, ret);
}

int safe_atoi(const char *s, int *ret)
{
        char *end;
        long v;

        if (!s || !*s || isspace((unsigned char)*s))
                return -EINVAL;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno == ERANGE || v < INT_MIN || v > INT_MAX)
                return -ERANGE;
        if (end == s || *end != '\0')
                return -EINVAL;
        *ret = (int)v;
        return 0;
}

int safe_atox64(const char *s, uint64_t *ret)
{
        if (s && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
                s += 2;
        return parse_u64_base(s, 16, ret);
}

int parse_size(const char *s, uint64_t *ret)
{
        static const struct {
                const char *suffix;
                unsigned shift;
        } units[] = {
                {"", 0},     {"B", 0},  {"K", 10},  {"KB", 10},  {"KiB", 10}, {"M", 20},  {"MB", 20},
                {"MiB", 20}, {"G", 30}, {"GB", 30}, {"GiB", 30}, {"T", 40},   {"TB", 40}, {"TiB", 40},
        };
        char *end;
        unsigned long long v;

        if (!s || !isdigit((unsigned char)*s))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        while (*end == ' ')
                end++;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
                if (strcasecmp(end, units[i].suffix) != 0)
                        continue;
                if (units[i].shift && v > (UINT64_MAX >> units[i].shift))
                        return -ERANGE;
                *ret = (uint64_t)v << units[i].shift;
                return 0;
        }
        return -EINVAL;
}
