/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vnuma/qemu/mtree.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "vnuma/basic/parse-util.h"

void mtree_free(struct mtree *t)
{
        if (!t)
                return;
        for (size_t i = 0; i < t->n_ranges; i++)
                free(t->ranges[i].name);
        free(t->ranges);
        free(t);
}

static int parse_hex_field(const char *s, size_t len, uint64_t *ret)
{
        char buf[24];

        if (len == 0 || len >= sizeof(buf))
                return -EBADMSG;
        memcpy(buf, s, len);
        buf[len] = '\0';
        return safe_atox64(buf, ret) < 0 ? -EBADMSG : 0;
}

/* "  START-LAST (prio P, KIND): NAME[ @OFFSET][ KVM]" */
static int parse_range_line(const char *line, struct mtree_range *ret)
{
        struct mtree_range r = {};
        const char *p = line, *dash, *paren, *comma, *close, *name, *at, *end;
        size_t n;

        while (*p == ' ')
                p++;
        dash = strchr(p, '-');
        paren = strstr(p, " (prio ");
        if (!dash || !paren || dash > paren)
                return -EBADMSG;
        if (parse_hex_field(p, (size_t)(dash - p), &r.start) < 0 ||
            parse_hex_field(dash + 1, (size_t)(paren - dash - 1), &r.last) < 0 || r.last < r.start)
                return -EBADMSG;
        comma = strchr(paren, ',');
        close = strstr(paren, "): ");
        if (!comma || !close || comma > close)
                return -EBADMSG;
        comma++;
        while (*comma == ' ')
                comma++;
        n = (size_t)(close - comma);
        if (n == 0 || n >= sizeof(r.kind))
                return -EBADMSG;
        memcpy(r.kind, comma, n);

        name = close + 3;
        end = name + strlen(name);
        at = strstr(name, " @");
        if (at) {
                const char *hex = at + 2, *hend = hex;

                while (isxdigit((unsigned char)*hend))
                        hend++;
                if (parse_hex_field(hex, (size_t)(hend - hex), &r.offset) < 0)
                        return -EBADMSG;
                end = at;
        } else if (end - name > 4 && streq(end - 4, " KVM"))
                end -= 4;
        if (end == name)
                return -EBADMSG;
        r.name = strndup(name, (size_t)(end - name));
        if (!r.name)
                return -ENOMEM;
        *ret = r;
        return 0;
}

int mtree_parse(const char *text, struct mtree **ret, unsigned *ret_line)
{
        _cleanup_(mtree_freep) struct mtree *t = NULL;
        _cleanup_free_ char *copy = strdup(text);
        bool in_view = false, serves_memory = false, found = false;
        unsigned lineno = 0;
        size_t allocated = 0;
        char *save = NULL;
        int r;

        if (!copy)
                return -ENOMEM;
        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;

        for (char *line = strtok_r(copy, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
                if (++lineno > MTREE_MAX_LINES)
                        return -E2BIG;
                if (startswith(line, "FlatView #")) {
                        if (found)
                                break; /* the memory view is complete */
                        in_view = true;
                        serves_memory = false;
                        continue;
                }
                if (!in_view)
                        continue;
                if (startswith(line, " AS \"")) {
                        if (startswith(line, " AS \"memory\","))
                                serves_memory = true;
                        continue;
                }
                if (startswith(line, " Root memory region:") || strstr(line, "No rendered FlatView"))
                        continue;
                if (!serves_memory || line[0] == '\0')
                        continue;

                struct mtree_range range, *nr;

                r = parse_range_line(line, &range);
                if (r < 0) {
                        if (ret_line && r == -EBADMSG)
                                *ret_line = lineno;
                        return r;
                }
                if (t->n_ranges == MTREE_MAX_RANGES) {
                        free(range.name);
                        return -E2BIG;
                }
                if (t->n_ranges == allocated) {
                        size_t want = MAX(allocated * 2, (size_t)64);

                        nr = realloc(t->ranges, want * sizeof(*nr));
                        if (!nr) {
                                free(range.name);
                                return -ENOMEM;
                        }
                        t->ranges = nr;
                        allocated = want;
                }
                t->ranges[t->n_ranges++] = range;
                found = true;
        }
        if (!found)
                return -ENOENT;
        *ret = TAKE_PTR(t);
        return 0;
}

uint64_t mtree_bytes_of(const struct mtree *t, const char *name)
{
        uint64_t sum = 0;

        for (size_t i = 0; i < t->n_ranges; i++)
                if (streq(t->ranges[i].name, name) && startswith(t->ranges[i].kind, "ram"))
                        sum += t->ranges[i].last - t->ranges[i].start + 1;
        return sum;
}
