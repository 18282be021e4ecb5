/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* DAMON sysfs values and tried regions: the pure part (no I/O). */
#include <errno.h>
#include <string.h>

#include "vnuma/basic/parse-util.h"
#include "vnuma/host/damon.h"

#define PAGE_SIZE_MIN 4096u

int damon_parse_u64(const char *text, uint64_t max, uint64_t *ret)
{
        char buf[32];
        size_t n;
        uint64_t v;

        if (!text)
                return -EBADMSG;
        n = strcspn(text, "\n");
        if (n == 0 || n >= sizeof(buf) || text[n + (text[n] == '\n')] != '\0')
                return -EBADMSG;
        memcpy(buf, text, n);
        buf[n] = '\0';
        if (safe_atou64(buf, &v) < 0)
                return -EBADMSG;
        if (v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int damon_parse_state(const char *text, bool *ret_on)
{
        if (!text)
                return -EBADMSG;
        if (streq(text, "on") || streq(text, "on\n")) {
                *ret_on = true;
                return 0;
        }
        if (streq(text, "off") || streq(text, "off\n")) {
                *ret_on = false;
                return 0;
        }
        return -EBADMSG;
}

bool damon_ops_available(const char *avail, const char *op)
{
        size_t len = strlen(op);

        for (const char *p = avail; p && *p;) {
                size_t n;

                p += strspn(p, " \t\n");
                n = strcspn(p, " \t\n");
                if (n == len && strncmp(p, op, len) == 0)
                        return true;
                p += n;
        }
        return false;
}

bool damon_token_is_ours(uint64_t token)
{
        return (token >> DAMON_TOKEN_SHIFT) == DAMON_TOKEN_MARK;
}

int damon_target_check(const struct damon_target *t)
{
        if (t->pid <= 0 || t->n_ranges == 0 || t->n_ranges > DAMON_TARGET_RANGES_MAX || !t->ranges)
                return -EINVAL;
        for (unsigned i = 0; i < t->n_ranges; i++) {
                const struct damon_range *r = &t->ranges[i];

                if (r->start >= r->end || r->end > DAMON_ADDRESS_MAX || r->start % PAGE_SIZE_MIN ||
                    r->end % PAGE_SIZE_MIN)
                        return -EINVAL;
                if (i > 0 && t->ranges[i - 1].end > r->start)
                        return -EINVAL;
        }
        return 0;
}

static uint64_t target_bytes(const struct damon_target *t)
{
        uint64_t sum = 0;

        for (unsigned i = 0; i < t->n_ranges; i++)
                sum += t->ranges[i].end - t->ranges[i].start;
        return sum;
}

static bool inside_target(const struct damon_target *t, const struct damon_region *r)
{
        for (unsigned i = 0; i < t->n_ranges; i++)
                if (r->start >= t->ranges[i].start && r->end <= t->ranges[i].end)
                        return true;
        return false;
}

int damon_regions_assign(const struct damon_region *regions, size_t n_regions,
                         const struct damon_target *targets, size_t n_targets, size_t *ret_first,
                         size_t *ret_count)
{
        size_t t = 0, i = 0;

        for (; t < n_targets; t++) {
                uint64_t want = target_bytes(&targets[t]), covered = 0, prev_end = 0;

                ret_first[t] = i;
                for (; i < n_regions && covered < want; i++) {
                        const struct damon_region *r = &regions[i];

                        if (r->start >= r->end || r->start < prev_end || !inside_target(&targets[t], r))
                                return -EBADMSG;
                        covered += r->end - r->start;
                        prev_end = r->end;
                }
                if (covered != want)
                        return -EBADMSG;
                ret_count[t] = i - ret_first[t];
        }
        return i == n_regions ? 0 : -EBADMSG;
}
