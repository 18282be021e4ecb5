/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The control socket's request limits, without a socket: line assembly and its 64 KiB cap,
 * JSON nesting depth, and how much of a client's string a reply may quote. */
#include <check.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "control-request.h"
#include "test-util.h"

/* Feeds data in pieces of at most chunk bytes, as recv() would hand them over. */
static void feed(struct control_input *in, const char *data, size_t len, size_t chunk)
{
        while (len > 0) {
                char *space;
                size_t room, n;

                ck_assert_int_eq(control_input_space(in, &space, &room), 0);
                n = MIN(MIN(room, len), chunk);
                memcpy(space, data, n);
                control_input_commit(in, n);
                data += n;
                len -= n;
        }
}

START_TEST(test_lines)
{
        struct control_input in = {};
        const char *text = "{\"a\": 1}\r\n\n  \r\n{\"b\": 2}\n{\"c\"";
        char *line;
        size_t len;

        /* Every fragmentation gives the same lines. */
        for (size_t chunk = 1; chunk <= strlen(text); chunk++) {
                feed(&in, text, strlen(text), chunk);
                ck_assert_int_eq(control_input_next(&in, &line, &len), 1);
                ck_assert_str_eq(line, "{\"a\": 1}");
                ck_assert_uint_eq(len, 8);
                ck_assert_int_eq(control_input_next(&in, &line, &len), 1); /* blank lines skipped */
                ck_assert_str_eq(line, "{\"b\": 2}");
                ck_assert_int_eq(control_input_next(&in, &line, &len), 0); /* {"c" is incomplete */
                feed(&in, ": 3}\n", 5, chunk);
                ck_assert_int_eq(control_input_next(&in, &line, &len), 1);
                ck_assert_str_eq(line, "{\"c\": 3}");
                ck_assert_int_eq(control_input_next(&in, &line, &len), 0);
                control_input_done(&in);
        }
}
END_TEST

START_TEST(test_line_limit)
{
        struct control_input in = {};
        _cleanup_free_ char *big = malloc(CONTROL_MAX_REQUEST + 2);
        char *line, *space;
        size_t len, room;

        /* Exactly the limit, then its newline: accepted. */
        memset(big, ' ', CONTROL_MAX_REQUEST);
        big[0] = '{';
        big[CONTROL_MAX_REQUEST - 1] = '}';
        big[CONTROL_MAX_REQUEST] = '\n';
        feed(&in, big, CONTROL_MAX_REQUEST + 1, 4096);
        ck_assert_int_eq(control_input_next(&in, &line, &len), 1);
        ck_assert_uint_eq(len, CONTROL_MAX_REQUEST);
        ck_assert_int_eq(control_input_next(&in, &line, &len), 0);

        /* One byte more and no newline yet: refused before the newline ever comes, with no more
         * than the limit and one byte held. */
        big[CONTROL_MAX_REQUEST] = ' ';
        feed(&in, big, CONTROL_MAX_REQUEST + 1, 65536);
        ck_assert_int_eq(control_input_next(&in, &line, &len), -EMSGSIZE);
        ck_assert_int_eq(control_input_space(&in, &space, &room), -EMSGSIZE);
        control_input_done(&in);

        /* A limit-sized line after a short one still fits: used bytes are given back. */
        feed(&in, "{}\n", 3, 3);
        ck_assert_int_eq(control_input_next(&in, &line, &len), 1);
        big[CONTROL_MAX_REQUEST] = '\n';
        feed(&in, big, CONTROL_MAX_REQUEST + 1, 65536);
        ck_assert_int_eq(control_input_next(&in, &line, &len), 1);
        ck_assert_uint_eq(len, CONTROL_MAX_REQUEST);
        control_input_done(&in);
}
END_TEST

static int parse(const char *text, char **ret_error)
{
        struct json_object *o = NULL;
        int r = control_request_parse(text, strlen(text), &o, ret_error);

        ck_assert(r < 0 || json_object_is_type(o, json_type_object));
        json_object_put(o);
        return r;
}

static char *nested(unsigned depth)
{
        char *s = malloc(64 + 8 * depth), *p = s;

        for (unsigned i = 1; i < depth; i++)
                p += sprintf(p, "{\"a\":");
        p += sprintf(p, "{}");
        for (unsigned i = 1; i < depth; i++)
                *p++ = '}';
        *p = '\0';
        return s;
}

START_TEST(test_depth_limit)
{
        _cleanup_free_ char *ok = nested(CONTROL_MAX_DEPTH), *deep = nested(CONTROL_MAX_DEPTH + 1),
                            *error = NULL;

        ck_assert_int_eq(parse(ok, &error), 0);
        ck_assert_int_eq(parse(deep, &error), -E2BIG);
        ck_assert_msg(strstr(error, "16 levels"), "error names the limit: %s", error);
}
END_TEST

START_TEST(test_not_a_request)
{
        static const char *const bad[] = {
                "[1, 2]",                          /* not an object */
                "\"execute\"",                     /* not an object */
                "{\"execute\": \"status\"} {}",    /* two values on one line */
                "{\"execute\": \"status\"",        /* incomplete */
                "{'execute': 'status'}",           /* not strict JSON */
                "{\"execute\": \"\xc0\xaf\"}",     /* overlong UTF-8 */
                "{\"execute\": \"\xed\xa0\x80\"}", /* a UTF-16 surrogate in UTF-8 */
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *error = NULL;
                ck_assert_msg(parse(bad[i], &error) == -EBADMSG, "accepted: %s", bad[i]);
                ck_assert_ptr_nonnull(error);
        }
        ck_assert_int_eq(parse("{\"execute\": \"status\", \"id\": 1}  \r", NULL), 0);
}
END_TEST

START_TEST(test_echo)
{
        _cleanup_free_ char *a = control_echo("short", 64), *b = NULL, *c = NULL;
        char longer[200];

        ck_assert_str_eq(a, "short");
        memset(longer, 'x', sizeof(longer) - 1);
        longer[sizeof(longer) - 1] = '\0';
        b = control_echo(longer, 64);
        ck_assert_uint_eq(strlen(b), 64 + 3);
        ck_assert(startswith(b + 64, "..."));
        /* "é" is two bytes: a cut never splits a character. */
        c = control_echo("abc\xc3\xa9", 4);
        ck_assert_str_eq(c, "abc...");
}
END_TEST

/* QMP lets a request leave "arguments" out: the command then gets an empty object, never NULL
 * (a command that looks for an optional member must not see "not an object"). */
START_TEST(test_arguments)
{
        struct json_object *req, *args = NULL, *member;
        _cleanup_free_ char *error = NULL;

        ck_assert_int_eq(parse("{\"execute\": \"show\"}", NULL), 0);
        req = json_tokener_parse("{\"execute\": \"show\"}");
        ck_assert_int_eq(control_request_arguments(req, &args, &error), 0);
        ck_assert_ptr_nonnull(args);
        ck_assert(json_object_is_type(args, json_type_object));
        ck_assert_int_eq(json_object_object_length(args), 0);
        ck_assert_ptr_null(error);
        json_object_put(args);
        json_object_put(req);

        /* Present: the same object, and a reference that outlives the request. */
        req = json_tokener_parse("{\"execute\": \"show\", \"arguments\": {\"domain\": \"a\"}}");
        ck_assert_int_eq(control_request_arguments(req, &args, &error), 0);
        json_object_put(req);
        ck_assert(json_object_object_get_ex(args, "domain", &member));
        ck_assert_str_eq(json_object_get_string(member), "a");
        json_object_put(args);

        static const char *const bad[] = {
                "{\"execute\": \"show\", \"arguments\": null}",
                "{\"execute\": \"show\", \"arguments\": []}",
                "{\"execute\": \"show\", \"arguments\": \"domain=a\"}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *e = NULL;

                args = NULL;
                req = json_tokener_parse(bad[i]);
                ck_assert_ptr_nonnull(req);
                ck_assert_msg(control_request_arguments(req, &args, &e) == -EBADMSG, "accepted: %s", bad[i]);
                ck_assert_ptr_null(args);
                ck_assert_msg(e && strstr(e, "\"arguments\" must be an object"), "error: %s", strna(e));
                json_object_put(req);
        }
}
END_TEST

TEST_MAIN("control-request", test_lines, test_line_limit, test_depth_limit, test_not_a_request, test_echo,
          test_arguments)
