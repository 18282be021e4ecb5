/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "guest-workload-config.h"

#include <errno.h>
#include <string.h>

#include "vnuma/basic/macro.h"
#include "vnuma/basic/parse-util.h"

static const char *const pattern_names[] = {
        [WORKLOAD_STREAM] = "stream",
        [WORKLOAD_RANDOM] = "random",
        [WORKLOAD_HOT] = "hot",
};

static const char *const alloc_names[] = {
        [WORKLOAD_FIRST_TOUCH] = "first-touch",
        [WORKLOAD_MBIND] = "mbind",
};

const char *workload_pattern_to_string(enum workload_pattern p)
{
        return (size_t)p < ELEMENTSOF(pattern_names) ? pattern_names[p] : NULL;
}

const char *workload_alloc_to_string(enum workload_alloc a)
{
        return (size_t)a < ELEMENTSOF(alloc_names) ? alloc_names[a] : NULL;
}

void workload_config_init(struct workload_config *c)
{
        *c = (struct workload_config){
                .size_per_node = 64ULL << 20,
                .pattern = WORKLOAD_STREAM,
                .hot_percent = 10,
                .alloc = WORKLOAD_FIRST_TOUCH,
                .interval_ms = 1000,
                .duration_s = 0,
                .nodes = IDSET_EMPTY,
                .phase_s = 0,
        };
}

static int parse_uint_in(const char *value, uint64_t min, uint64_t max, unsigned *ret)
{
        uint64_t v;
        int r;

        r = safe_atou64(value, &v);
        if (r < 0)
                return r;
        if (v < min || v > max)
                return -ERANGE;
        *ret = (unsigned)v;
        return 0;
}

static int lookup(const char *const *names, size_t n, const char *value)
{
        for (size_t i = 0; i < n; i++)
                if (names[i] && streq(names[i], value))
                        return (int)i;
        return -EINVAL;
}

int workload_config_set(struct workload_config *c, const char *key, const char *value)
{
        struct workload_config n = *c;
        uint64_t size;
        int r;

        if (streq(key, "size")) {
                r = parse_size(value, &size);
                if (r < 0)
                        return r;
                /* At least one page, and small enough that a guest could hold it. */
                if (size < 4096 || size > (UINT64_C(1) << 40))
                        return -ERANGE;
                n.size_per_node = size;
        } else if (streq(key, "pattern")) {
                r = lookup(pattern_names, ELEMENTSOF(pattern_names), value);
                if (r < 0)
                        return r;
                n.pattern = (enum workload_pattern)r;
        } else if (streq(key, "hot")) {
                r = parse_uint_in(value, 1, 100, &n.hot_percent);
                if (r < 0)
                        return r;
        } else if (streq(key, "alloc")) {
                r = lookup(alloc_names, ELEMENTSOF(alloc_names), value);
                if (r < 0)
                        return r;
                n.alloc = (enum workload_alloc)r;
        } else if (streq(key, "interval")) {
                r = parse_uint_in(value, 100, 3600 * 1000, &n.interval_ms);
                if (r < 0)
                        return r;
        } else if (streq(key, "duration")) {
                r = parse_uint_in(value, 0, 30 * 24 * 3600, &n.duration_s);
                if (r < 0)
                        return r;
        } else if (streq(key, "phase")) {
                r = parse_uint_in(value, 0, 30 * 24 * 3600, &n.phase_s);
                if (r < 0)
                        return r;
        } else if (streq(key, "nodes")) {
                r = idset_parse(value, &n.nodes);
                if (r < 0)
                        return r;
        } else
                return -EINVAL;

        *c = n;
        return 0;
}

int workload_config_parse_cmdline(struct workload_config *c, const char *cmdline, char **bad_word)
{
        struct workload_config n = *c;
        const char *p = cmdline;

        while (*p) {
                size_t len;

                p += strspn(p, " \t\n");
                len = strcspn(p, " \t\n");
                if (len == 0)
                        break;
                if (len > 4 && startswith(p, "vnw.")) {
                        _cleanup_free_ char *word = strndup(p, len);
                        char *eq;
                        int r;

                        if (!word)
                                return -ENOMEM;
                        eq = strchr(word, '=');
                        if (!eq)
                                r = -EINVAL;
                        else {
                                *eq = '\0';
                                r = workload_config_set(&n, word + 4, eq + 1);
                                *eq = '=';
                        }
                        if (r < 0) {
                                if (bad_word)
                                        *bad_word = TAKE_PTR(word);
                                return r;
                        }
                }
                p += len;
        }

        *c = n;
        return 0;
}
