/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vnumactl's output shared by its verbs: a JSON document as is, and a show document as tables. */
#include "vnumactl-print.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vnuma/basic/string-sanitize.h"

#include "vnuma/basic/json-util.h"
#include "vnuma/basic/log.h"
#include "vnuma/report/show.h"

void print_doc(struct json_object *doc)
{
        printf("%s\n", json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
}

size_t print_errors(struct json_object *doc)
{
        struct json_object *errors = NULL;
        size_t n;

        if (json_member_array(doc, "errors", &errors) < 0 || !errors)
                return 0;
        n = json_object_array_length(errors);
        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_array_get_idx(errors, i);

                log_warning("%s: %s", json_string_or(e, "what", "?"), json_string_or(e, "message", "?"));
        }
        return n;
}

void print_policy_get(struct json_object *o)
{
        struct json_object *p = NULL, *cells = NULL;

        printf("Name:          %s\n", json_string_or(o, "name", "?"));
        printf("Source:        %s\n", json_string_or(o, "source", "?"));
        if (json_member_object(o, "policy", &p) >= 0 && p) {
                const char *nodes = json_string_or(p, "nodes", "");
                uint64_t rate = json_uint64_or(p, "migrate_rate_bytes", 0);

                printf("Mode:          %s\n", json_string_or(p, "mode", "?"));
                printf("Nodes:         %s\n", *nodes ? nodes : "all");
                printf("Pin:           %s\n", json_string_or(p, "pin", "?"));
                if (rate)
                        printf("Migrate rate:  %.0f MiB/s\n", (double)rate / 1048576.0);
                else
                        printf("Migrate rate:  vnumad's default\n");
                json_member_array(p, "cells", &cells);
                for (size_t i = 0; cells && i < json_object_array_length(cells); i++) {
                        struct json_object *c = json_object_array_get_idx(cells, i);
                        printf("Cell %-8" PRIu64 " nodes %s\n", json_uint64_or(c, "id", 0),
                               json_string_or(c, "nodes", "?"));
                }
        }
        if (json_string_or(o, "xml", NULL))
                printf("Metadata:      %s\n", json_string_or(o, "xml", ""));
        if (json_string_or(o, "error", NULL))
                printf("ERROR:         %s (vnumad leaves the VM untouched)\n",
                       json_string_or(o, "error", ""));
}

void print_show_tables(struct json_object *doc)
{
        struct json_object *host = NULL, *domains = NULL;

        json_member_object(doc, "host", &host);
        json_member_array(doc, "domains", &domains);
        for (size_t i = 0; domains && i < json_object_array_length(domains); i++) {
                show_table_domain(stdout, json_object_array_get_idx(domains, i), host);
                fputc('\n', stdout);
        }
}

/* A C1 control split across two writes: 0xC2 ended the last one. */
static bool pending_c2;

static ssize_t filter_write(void *cookie, const char *buf, size_t size)
{
        int fd = *(int *)cookie;
        char tmp[4096];

        for (size_t done = 0; done < size;) {
                size_t n = MIN(size - done, sizeof(tmp));

                memcpy(tmp, buf + done, n);
                if (pending_c2 && (unsigned char)tmp[0] >= 0x80 && (unsigned char)tmp[0] <= 0x9f)
                        tmp[0] = '?';
                /* A 0xC2 at the end of this chunk pairs with the first byte of the next one. */
                if ((unsigned char)tmp[n - 1] == 0xc2 && done + n < size &&
                    (unsigned char)buf[done + n] >= 0x80 && (unsigned char)buf[done + n] <= 0x9f)
                        tmp[n - 1] = '?';
                string_neutralize_controls(tmp, n, true);
                pending_c2 = (unsigned char)tmp[n - 1] == 0xc2;
                for (size_t w = 0; w < n;) {
                        ssize_t k = write(fd, tmp + w, n - w);

                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k <= 0)
                                return done + w > 0 ? (ssize_t)(done + w) : -1;
                        w += (size_t)k;
                }
                done += n;
        }
        return (ssize_t)size;
}

int print_filter_stdout(void)
{
        static int fd = STDOUT_FILENO;
        FILE *f;

        fflush(stdout);
        f = fopencookie(&fd, "w", (cookie_io_functions_t){.write = filter_write});
        if (!f)
                return -errno;
        if (isatty(STDOUT_FILENO))
                setvbuf(f, NULL, _IOLBF, 0);
        stdout = f;
        return 0;
}
