/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "qmp-framer.h"

#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>

/* QMP replies nest deeper than json-c's default of 32 (e.g. query-block backing chains). */
#define QMP_FRAMER_MAX_DEPTH 128

struct qmp_framer {
        struct json_tokener *tok;
        size_t max_object;
        size_t fed; /* bytes of the current object handed to the tokener */
        int error;  /* sticky -errno, 0 if fine */
        char error_desc[160];
};

int qmp_framer_new(size_t max_object, struct qmp_framer **ret)
{
        struct qmp_framer *f;

        f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        f->tok = json_tokener_new_ex(QMP_FRAMER_MAX_DEPTH);
        if (!f->tok) {
                free(f);
                return -ENOMEM;
        }
        /* QEMU emits strict JSON: no comments, no single quotes, valid UTF-8 (non-ASCII is
         * escaped). Several objects follow each other in one stream. */
        json_tokener_set_flags(f->tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
                                               JSON_TOKENER_VALIDATE_UTF8);
        f->max_object = max_object;
        *ret = f;
        return 0;
}

void qmp_framer_free(struct qmp_framer *f)
{
        if (!f)
                return;
        json_tokener_free(f->tok);
        free(f);
}

void qmp_framer_set_max_object(struct qmp_framer *f, size_t max_object)
{
        f->max_object = max_object;
}

void qmp_framer_reset(struct qmp_framer *f)
{
        json_tokener_reset(f->tok);
        f->fed = 0;
        f->error = 0;
        f->error_desc[0] = '\0';
}

bool qmp_framer_mid_object(const struct qmp_framer *f)
{
        return f->fed > 0;
}

const char *qmp_framer_error(const struct qmp_framer *f)
{
        return f->error ? f->error_desc : NULL;
}

_printf_(3, 4) static int framer_fail(struct qmp_framer *f, int error, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(f->error_desc, sizeof(f->error_desc), fmt, ap);
        va_end(ap);
        f->error = error;
        return error;
}

static bool is_json_space(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int qmp_framer_feed(struct qmp_framer *f, const void *buf, size_t len, size_t *ret_consumed,
                    struct json_object **ret_object)
{
        const char *p = buf;
        size_t i = 0;

        if (f->error)
                return f->error;

        while (i < len) {
                struct json_object *obj;
                enum json_tokener_error jerr;
                size_t chunk, used;

                if (f->fed == 0) {
                        /* Between objects: skip whitespace here so it never counts against the
                         * size limit, and reject anything but an object before the tokener
                         * starts assembling a huge array or string. */
                        while (i < len && is_json_space(p[i]))
                                i++;
                        if (i == len)
                                break;
                        if (p[i] != '{')
                                return framer_fail(
                                        f, -EBADMSG, "expected a JSON object, got byte 0x%02x ('%c')",
                                        (unsigned char)p[i], p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '?');
                }

                if (f->fed >= f->max_object)
                        return framer_fail(f, -EMSGSIZE, "JSON object longer than the %zu byte limit",
                                           f->max_object);
                chunk = MIN(len - i, f->max_object - f->fed);
                chunk = MIN(chunk, (size_t)INT_MAX);

                obj = json_tokener_parse_ex(f->tok, p + i, (int)chunk);
                jerr = json_tokener_get_error(f->tok);
                if (jerr == json_tokener_continue) {
                        f->fed += chunk;
                        i += chunk;
                        /* At the limit and still unfinished: the object cannot fit. */
                        if (f->fed >= f->max_object)
                                return framer_fail(f, -EMSGSIZE,
                                                   "JSON object longer than the %zu byte limit",
                                                   f->max_object);
                        continue;
                }
                used = json_tokener_get_parse_end(f->tok);
                if (jerr != json_tokener_success || !obj) {
                        size_t at = f->fed + used;

                        json_object_put(obj);
                        return framer_fail(f, -EBADMSG, "invalid JSON at byte %zu of an object: %s", at,
                                           jerr != json_tokener_success ? json_tokener_error_desc(jerr)
                                                                        : "no value");
                }
                if (!json_object_is_type(obj, json_type_object)) {
                        /* Unreachable given the '{' check; kept so the contract does not hinge on it. */
                        json_object_put(obj);
                        return framer_fail(f, -EBADMSG, "top-level JSON value is not an object");
                }

                json_tokener_reset(f->tok);
                f->fed = 0;
                *ret_consumed = i + used;
                *ret_object = obj;
                return 1;
        }

        *ret_consumed = len;
        *ret_object = NULL;
        return 0;
}
