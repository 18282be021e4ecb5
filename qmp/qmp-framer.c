/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "qmp-framer.h"

#include <json-c/json.h>
#include <json-c/printbuf.h>
#include <limits.h>
#include <stdarg.h>

/* QMP replies nest deeper than json-c's default of 32 (e.g. query-block backing chains). */
#define QMP_FRAMER_MAX_DEPTH 128

/* UTF-8 decoding state carried between chunks (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF). */
struct utf8_state {
        unsigned need;        /* continuation bytes still expected */
        unsigned char lo, hi; /* range allowed for the next continuation byte */
};

struct qmp_framer {
        struct json_tokener *tok;
        struct utf8_state utf8;
        size_t max_object;
        size_t fed;       /* bytes of the current object handed to the tokener */
        size_t last_size; /* bytes of the last completed object */
        int error;        /* sticky -errno, 0 if fine */
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
        /* QEMU emits strict JSON (no comments, no single quotes), one object after another.
         * UTF-8 is checked here, not with JSON_TOKENER_VALIDATE_UTF8: json-c validates every
         * byte it peeks at, including the first byte after a complete object, so whether an
         * object followed by garbage was returned would depend on where reads split the stream. */
        json_tokener_set_flags(f->tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
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

static void framer_next_object(struct qmp_framer *f)
{
        json_tokener_reset(f->tok);
        f->utf8 = (struct utf8_state){};
        f->fed = 0;
}

void qmp_framer_reset(struct qmp_framer *f)
{
        framer_next_object(f);
        f->error = 0;
        f->error_desc[0] = '\0';
}

bool qmp_framer_mid_object(const struct qmp_framer *f)
{
        return f->fed > 0;
}

size_t qmp_framer_last_size(const struct qmp_framer *f)
{
        return f->last_size;
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

/* Check len bytes of the current object; returns the offset of the first bad byte, or len. */
static size_t utf8_check(struct utf8_state *u, const unsigned char *p, size_t len)
{
        for (size_t i = 0; i < len; i++) {
                unsigned char c = p[i];

                if (u->need > 0) {
                        if (c < u->lo || c > u->hi)
                                return i;
                        u->need--;
                        u->lo = 0x80;
                        u->hi = 0xbf;
                        continue;
                }
                if (c < 0x80)
                        continue;
                u->lo = 0x80;
                u->hi = 0xbf;
                if (c >= 0xc2 && c <= 0xdf)
                        u->need = 1;
                else if (c >= 0xe0 && c <= 0xef) {
                        u->need = 2;
                        if (c == 0xe0)
                                u->lo = 0xa0; /* overlong */
                        else if (c == 0xed)
                                u->hi = 0x9f; /* UTF-16 surrogates */
                } else if (c >= 0xf0 && c <= 0xf4) {
                        u->need = 3;
                        if (c == 0xf0)
                                u->lo = 0x90; /* overlong */
                        else if (c == 0xf4)
                                u->hi = 0x8f; /* above U+10FFFF */
                } else
                        return i;
        }
        return len;
}

/* json-c 0.16 forgets at a chunk boundary that a number already has digits and takes a '-'
 * that starts the next chunk as a sign, so "{"a": 1" + "-2}" parses as 1 although "1-2" is
 * no number. A sign is valid inside a number only right after the exponent's 'e'. This reads
 * the tokener's published (if deprecated) state; the check must go if the struct goes opaque. */
static bool resumes_number_with_sign(const struct json_tokener *tok, char next)
{
        const struct printbuf *pb = tok->pb;
        char last;

        if (next != '-' && next != '+')
                return false;
        if (tok->stack[tok->depth].state != json_tokener_state_number || printbuf_length(pb) <= 0)
                return false;
        last = pb->buf[printbuf_length(pb) - 1];
        return last != 'e' && last != 'E';
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
                size_t chunk, used, bad;

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
                        return framer_fail(f, -EMSGSIZE,
                                           "message longer than the %zu byte limit of a QMP reply",
                                           f->max_object);
                if (f->fed > 0 && resumes_number_with_sign(f->tok, p[i]))
                        return framer_fail(f, -EBADMSG, "invalid JSON at byte %zu of an object: %s", f->fed,
                                           "sign inside a number");
                chunk = MIN(len - i, f->max_object - f->fed);
                chunk = MIN(chunk, (size_t)INT_MAX);

                obj = json_tokener_parse_ex(f->tok, p + i, (int)chunk);
                jerr = json_tokener_get_error(f->tok);
                used = jerr == json_tokener_continue ? chunk : json_tokener_get_parse_end(f->tok);

                /* Only this object's bytes: whatever follows it belongs to the next one. */
                bad = utf8_check(&f->utf8, (const unsigned char *)p + i, used);
                if (bad < used) {
                        json_object_put(obj);
                        return framer_fail(f, -EBADMSG, "invalid UTF-8 at byte %zu of an object",
                                           f->fed + bad);
                }

                if (jerr == json_tokener_continue) {
                        f->fed += chunk;
                        i += chunk;
                        /* At the limit and still unfinished: the object cannot fit. */
                        if (f->fed >= f->max_object)
                                return framer_fail(f, -EMSGSIZE,
                                                   "message longer than the %zu byte limit of a QMP reply",
                                                   f->max_object);
                        continue;
                }
                if (jerr != json_tokener_success || !obj) {
                        json_object_put(obj);
                        return framer_fail(
                                f, -EBADMSG, "invalid JSON at byte %zu of an object: %s", f->fed + used,
                                jerr != json_tokener_success ? json_tokener_error_desc(jerr) : "no value");
                }
                if (!json_object_is_type(obj, json_type_object)) {
                        /* Unreachable given the '{' check; kept so the contract does not hinge on it. */
                        json_object_put(obj);
                        return framer_fail(f, -EBADMSG, "top-level JSON value is not an object");
                }

                f->last_size = f->fed + used;
                framer_next_object(f);
                *ret_consumed = i + used;
                *ret_object = obj;
                return 1;
        }

        *ret_consumed = len;
        *ret_object = NULL;
        return 0;
}
