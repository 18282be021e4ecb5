/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "control-request.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vnuma/basic/error-message.h"
#include "vnuma/basic/macro.h"

int control_input_space(struct control_input *in, char **ret_buf, size_t *ret_len)
{
        /* Lines are handed out by moving start; the bytes move only here, once per receive, so
         * a buffer full of tiny requests costs one memmove, not one per request. */
        if (in->start > 0) {
                memmove(in->buf, in->buf + in->start, in->len - in->start);
                in->len -= in->start;
                in->scanned = in->scanned > in->start ? in->scanned - in->start : 0;
                in->start = 0;
        }
        if (!in->buf) {
                in->buf = malloc(CONTROL_MAX_REQUEST + 1);
                if (!in->buf)
                        return -ENOMEM;
        }
        if (in->len >= CONTROL_MAX_REQUEST + 1)
                return -EMSGSIZE;
        *ret_buf = in->buf + in->len;
        *ret_len = CONTROL_MAX_REQUEST + 1 - in->len;
        return 0;
}

void control_input_commit(struct control_input *in, size_t n)
{
        in->len += n;
}

static bool blank(const char *s, size_t len)
{
        for (size_t i = 0; i < len; i++)
                if (!strchr(" \t\r", s[i]))
                        return false;
        return true;
}

int control_input_next(struct control_input *in, char **ret_line, size_t *ret_len)
{
        for (;;) {
                char *line = in->buf + in->start, *nl;
                size_t n;

                if (in->scanned < in->start)
                        in->scanned = in->start;
                nl = in->buf ? memchr(in->buf + in->scanned, '\n', in->len - in->scanned) : NULL;
                if (!nl) {
                        in->scanned = in->len;
                        return in->len - in->start > CONTROL_MAX_REQUEST ? -EMSGSIZE : 0;
                }
                n = (size_t)(nl - line);
                in->start = in->scanned = n + 1 + in->start;
                if (n > CONTROL_MAX_REQUEST)
                        return -EMSGSIZE;
                if (n > 0 && line[n - 1] == '\r')
                        n--;
                line[n] = '\0';
                if (blank(line, n))
                        continue;
                *ret_line = line;
                *ret_len = n;
                return 1;
        }
}

void control_input_done(struct control_input *in)
{
        free(in->buf);
        *in = (struct control_input){};
}

/* Offset of the first byte that is not strict UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or len. json-c's own check lets overlong forms through,
 * and a reply that quotes a client's string must stay valid UTF-8. */
static size_t utf8_valid_prefix(const unsigned char *p, size_t len)
{
        for (size_t i = 0; i < len;) {
                unsigned char c = p[i], lo = 0x80, hi = 0xbf;
                size_t need;

                if (c < 0x80) {
                        i++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf)
                        need = 1;
                else if (c >= 0xe0 && c <= 0xef) {
                        need = 2;
                        lo = c == 0xe0 ? 0xa0 : 0x80; /* overlong */
                        hi = c == 0xed ? 0x9f : 0xbf; /* surrogates */
                } else if (c >= 0xf0 && c <= 0xf4) {
                        need = 3;
                        lo = c == 0xf0 ? 0x90 : 0x80; /* overlong */
                        hi = c == 0xf4 ? 0x8f : 0xbf; /* above U+10FFFF */
                } else
                        return i;
                if (len - i <= need)
                        return i;
                for (size_t k = 1; k <= need; k++) {
                        unsigned char b = p[i + k];
                        if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xbf))
                                return i;
                }
                i += need + 1;
        }
        return len;
}

int control_request_parse(const char *line, size_t len, struct json_object **ret, char **ret_error)
{
        struct json_tokener *tok;
        struct json_object *obj;
        enum json_tokener_error jerr;
        size_t end = utf8_valid_prefix((const unsigned char *)line, len);

        if (end < len)
                return error_message(ret_error, -EBADMSG, "invalid UTF-8 at byte %zu", end);
        tok = json_tokener_new_ex(CONTROL_MAX_DEPTH);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        obj = json_tokener_parse_ex(tok, line, (int)MIN(len, (size_t)CONTROL_MAX_REQUEST));
        jerr = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);

        if (jerr == json_tokener_error_depth) {
                json_object_put(obj);
                return error_message(ret_error, -E2BIG, "request nested deeper than the limit of %d levels",
                                     CONTROL_MAX_DEPTH);
        }
        if (jerr == json_tokener_continue) {
                json_object_put(obj);
                return error_message(ret_error, -EBADMSG,
                                     "incomplete JSON: a request is one JSON object on one line");
        }
        if (jerr != json_tokener_success || !obj) {
                json_object_put(obj);
                return error_message(ret_error, -EBADMSG, "invalid JSON at byte %zu: %s", end,
                                     jerr != json_tokener_success ? json_tokener_error_desc(jerr)
                                                                  : "no value");
        }
        if (!json_object_is_type(obj, json_type_object)) {
                json_object_put(obj);
                return error_message(ret_error, -EBADMSG, "a request must be a JSON object");
        }
        for (size_t i = end; i < len; i++)
                if (!strchr(" \t\r\n", line[i])) {
                        json_object_put(obj);
                        return error_message(ret_error, -EBADMSG,
                                             "unexpected data after the request at byte %zu", i);
                }
        *ret = obj;
        return 0;
}

int control_request_arguments(struct json_object *req, struct json_object **ret, char **ret_error)
{
        struct json_object *args;

        if (!json_object_object_get_ex(req, "arguments", &args)) {
                args = json_object_new_object();
                if (!args)
                        return -ENOMEM;
                *ret = args;
                return 0;
        }
        if (!json_object_is_type(args, json_type_object))
                return error_message(ret_error, -EBADMSG, "\"arguments\" must be an object");
        *ret = json_object_get(args);
        return 0;
}

char *control_echo(const char *s, size_t max)
{
        size_t n = strlen(s);
        char *r;

        if (n <= max)
                return strdup(s);
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
                n--; /* s[n] continues a character: cut before the character starts */
        if (asprintf(&r, "%.*s...", (int)n, s) < 0)
                return NULL;
        return r;
}
