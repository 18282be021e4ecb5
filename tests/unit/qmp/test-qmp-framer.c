/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <check.h>
#include <errno.h>
#include <json-c/json.h>

#include "qmp-framer.h"
#include "qmp-message.h"

/* Three QEMU-style messages with the whitespace QEMU puts between them. */
static const char stream[] = "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7}}, \"capabilities\": []}}\r\n"
                             "{\"event\": \"RESUME\", \"data\": {\"s\": \"a}b\\\"c\"}}\r\n"
                             "  {\"return\": [1, 2.5, null, true], \"id\": \"vnuma-1\"}\r\n";
static const char *const expected[] = {
        "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7}}, \"capabilities\": []}}",
        "{\"event\": \"RESUME\", \"data\": {\"s\": \"a}b\\\"c\"}}",
        "{\"return\": [1, 2.5, null, true], \"id\": \"vnuma-1\"}",
};

/* Feed buf in pieces of the given sizes (cycled), collect objects into out[] and count them
 * in *ret_n (also on failure). */
static int feed_pieces(struct qmp_framer *f, const char *buf, size_t len, const size_t *pieces,
                       size_t n_pieces, struct json_object **out, size_t max_out, size_t *ret_n)
{
        size_t n = 0, pos = 0, k = 0;

        while (pos < len) {
                size_t piece = pieces[k++ % n_pieces], off = 0;

                if (piece > len - pos)
                        piece = len - pos;
                while (off < piece) {
                        struct json_object *obj;
                        size_t used;
                        int r = qmp_framer_feed(f, buf + pos + off, piece - off, &used, &obj);

                        if (r < 0) {
                                *ret_n = n; /* the objects before the failure */
                                return r;
                        }
                        ck_assert_uint_le(used, piece - off);
                        off += used;
                        if (r == 0) {
                                ck_assert_uint_eq(off, piece);
                                ck_assert_ptr_null(obj);
                                break;
                        }
                        ck_assert_uint_lt(n, max_out);
                        out[n++] = obj;
                }
                pos += piece;
        }
        *ret_n = n;
        return 0;
}

static void check_expected(struct json_object **got, size_t n)
{
        ck_assert_uint_eq(n, 3);
        for (size_t i = 0; i < n; i++) {
                struct json_object *want = json_tokener_parse(expected[i]);

                ck_assert_ptr_nonnull(want);
                ck_assert_msg(json_object_equal(got[i], want), "object %zu: got %s", i,
                              json_object_to_json_string(got[i]));
                json_object_put(want);
                json_object_put(got[i]);
        }
}

START_TEST(test_one_chunk_several_objects)
{
        _cleanup_(qmp_framer_freep) struct qmp_framer *f = NULL;
        struct json_object *got[4];
        size_t all = sizeof(stream) - 1, n;

        ck_assert_int_eq(qmp_framer_new(1024, &f), 0);
        ck_assert_int_eq(feed_pieces(f, stream, all, &all, 1, got, 4, &n), 0);
        ck_assert(!qmp_framer_mid_object(f));
        ck_assert_ptr_null(qmp_framer_error(f));
        check_expected(got, n);
}
END_TEST

/* Split the stream at every position (two pieces), and into every piece size up to 17. */
START_TEST(test_every_split_point)
{
        size_t all = sizeof(stream) - 1;

        for (size_t cut = 1; cut < all; cut++) {
                _cleanup_(qmp_framer_freep) struct qmp_framer *f = NULL;
                size_t pieces[2] = {cut, all}, n;
                struct json_object *got[4];

                ck_assert_int_eq(qmp_framer_new(1024, &f), 0);
                ck_assert_int_eq(feed_pieces(f, stream, all, pieces, 2, got, 4, &n), 0);
                check_expected(got, n);
        }
        for (size_t size = 1; size <= 17; size++) {
                _cleanup_(qmp_framer_freep) struct qmp_framer *f = NULL;
                struct json_object *got[4];
                size_t n;

                ck_assert_int_eq(qmp_framer_new(1024, &f), 0);
                ck_assert_int_eq(feed_pieces(f, stream, all, &size, 1, got, 4, &n), 0);
                check_expected(got, n);
        }
}
END_TEST

START_TEST(test_mid_object_and_whitespace)
{
        _cleanup_(qmp_framer_freep) struct qmp_framer *f = NULL;
        struct json_object *obj = NULL;
        size_t used;

        ck_assert_int_eq(qmp_framer_new(1024, &f), 0);
        ck_assert_int_eq(qmp_framer_feed(f, " \r\n\t ", 5, &used, &obj), 0);
        ck_assert_uint_eq(used, 5);
        ck_assert(!qmp_framer_mid_object(f));
        ck_assert_int_eq(qmp_framer_feed(f, "{\"a\"", 4, &used, &obj), 0);
        ck_assert(qmp_framer_mid_object(f));
        ck_assert_int_eq(qmp_framer_feed(f, ": 1}{", 5, &used, &obj), 1);
        ck_assert_uint_eq(used, 4);
        ck_assert(!qmp_framer_mid_object(f));
        ck_assert_int_eq(json_object_get_int(json_object_object_get(obj, "a")), 1);
        json_object_put(obj);
        /* The '{' left over starts the next object. */
        ck_assert_int_eq(qmp_framer_feed(f, "{", 1, &used, &obj), 0);
        ck_assert(qmp_framer_mid_object(f));
        qmp_framer_reset(f);
        ck_assert(!qmp_framer_mid_object(f));
        ck_assert_int_eq(qmp_framer_feed(f, "{}", 2, &used, &obj), 1);
        ck_assert_int_eq(json_object_object_length(obj), 0);
        json_object_put(obj);
}
END_TEST

static int feed_all(struct qmp_framer *f, const char *s, size_t len)
{
        while (len > 0) {
                struct json_object *obj;
                size_t used;
                int r = qmp_framer_feed(f, s, len, &used, &obj);

                if (r <= 0)
                        return r;
                json_object_put(obj);
                s += used;
                len -= used;
        }
        return 0;
}

START_TEST(test_garbage)
{
        static const char *const bad[] = {
                "hello\r\n", /* not JSON */
                "QEMU 7.2.0 monitor - type 'help' for more information\r\n",
                "{\"a\": x}",         /* bad value */
                "{\"a\" 1}",          /* missing colon */
                "{\"a\": 1 /* c */}", /* comments neither */
                "{\"a\": 1,}",        /* trailing comma */
                "{\"a\": \"\xff\"}",  /* invalid UTF-8 */
                "}",
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                _cleanup_(qmp_framer_freep) struct qmp_framer *f = NULL;
                struct json_object *obj = NULL;
                size_t used = 12345;

                ck_assert_int_eq(qmp_framer_new(1024, &f), 0);
                ck_assert_msg(feed_all(f, bad[i], strlen(bad[i])) == -EBADMSG, "accepted: %s", bad[i]);
                ck_assert_ptr_nonnull(qmp_framer_error(f));
                /* Sticky until reset; outputs untouched on failure. */
                ck_assert_int_eq(qmp_framer_feed(f, "{}", 2, &used, &obj), -EBADMSG);
                ck_assert_ptr_null(obj);
                ck_assert_uint_eq(used, 12345);
                qmp_framer_reset(f);
                ck_assert_ptr_null(qmp_framer_error(f));
                ck_assert_int_eq(qmp_framer_feed(f, "{}", 2, &used, &obj), 1);
                json_object_put(obj);
        }
}
END_TEST

START_TEST(test_error_names_position)
{
        _cleanup_(qmp_framer_freep) struct qmp_framer *f = NULL;

        ck_assert_int_eq(qmp_framer_new(1024, &f), 0);
        ck_assert_int_eq(feed_all(f, "{\"abc\": ", 8), 0);
        ck_assert_int_eq(feed_all(f, "  x}", 4), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(qmp_framer_error(f), "byte 10"));
        ck_assert_ptr_nonnull(strstr(qmp_framer_error(f), "invalid JSON"));
}
END_TEST

START_TEST(test_embedded_nul)
{
        _cleanup_(qmp_framer_freep) struct qmp_framer *f = NULL;
        static const char in_string[] = "{\"a\": \"x\0y\"}";
        static const char between[] = "{}\0{}";

        ck_assert_int_eq(qmp_framer_new(1024, &f), 0);
        ck_assert_int_eq(feed_all(f, in_string, sizeof(in_string) - 1), -EBADMSG);
        qmp_framer_reset(f);
        ck_assert_int_eq(feed_all(f, between, sizeof(between) - 1), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(qmp_framer_error(f), "0x00"));
}
END_TEST

START_TEST(test_utf8)
{
        static const char valid[] = "{\"s\": \"g\xc3\xa9st \xe2\x82\xac \xf0\x9f\x98\x80\"}";
        static const char *const bad[] = {
                "{\"s\": \"\xc0\xaf\"}",         /* overlong '/' */
                "{\"s\": \"\xed\xa0\x80\"}",     /* UTF-16 surrogate */
                "{\"s\": \"\xf4\x90\x80\x80\"}", /* above U+10FFFF */
                "{\"s\": \"\xe2\x82\"}",         /* truncated sequence */
                "{\"s\": \"\x80\"}",             /* lone continuation byte */
        };

        /* Multi-byte characters split at every byte still decode. */
        for (size_t size = 1; size <= 4; size++) {
                _cleanup_(qmp_framer_freep) struct qmp_framer *f = NULL;
                struct json_object *got[1];
                size_t n;

                ck_assert_int_eq(qmp_framer_new(1024, &f), 0);
                ck_assert_int_eq(feed_pieces(f, valid, sizeof(valid) - 1, &size, 1, got, 1, &n), 0);
                ck_assert_uint_eq(n, 1);
                ck_assert_str_eq(json_object_get_string(json_object_object_get(got[0], "s")),
                                 "g\xc3\xa9st \xe2\x82\xac \xf0\x9f\x98\x80");
                json_object_put(got[0]);
        }
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                _cleanup_(qmp_framer_freep) struct qmp_framer *f = NULL;

                ck_assert_int_eq(qmp_framer_new(1024, &f), 0);
                ck_assert_msg(feed_all(f, bad[i], strlen(bad[i])) == -EBADMSG, "accepted bad UTF-8 #%zu", i);
                ck_assert_ptr_nonnull(strstr(qmp_framer_error(f), "UTF-8"));
        }
}
END_TEST

/* A complete object followed by garbage is returned whether or not both came in one read. */
START_TEST(test_garbage_after_object)
{
        static const char in[] = "{\"return\": 1}\r\xff";
        size_t all = sizeof(in) - 1, one = 1;

        for (int split = 0; split < 2; split++) {
                _cleanup_(qmp_framer_freep) struct qmp_framer *f = NULL;
                struct json_object *got[2];
                size_t n = 0;

                ck_assert_int_eq(qmp_framer_new(1024, &f), 0);
                ck_assert_int_eq(feed_pieces(f, in, all, split ? &one : &all, 1, got, 2, &n), -EBADMSG);
                ck_assert_ptr_nonnull(strstr(qmp_framer_error(f), "got byte 0xff"));
                ck_assert_uint_eq(n, 1);
                ck_assert_int_eq(json_object_get_int(json_object_object_get(got[0], "return")), 1);
                json_object_put(got[0]);
        }
}
END_TEST

/* Numbers split at every byte: valid ones parse the same, invalid ones fail at every split
 * (json-c alone takes a '-' at the start of a chunk as a sign; see qmp-framer.c). */
START_TEST(test_numbers_split)
{
        static const char *const valid[] = {"-5", "1e-5", "1.5E+3", "-0.25e-10", "12345678901234", "0"};
        static const char *const invalid[] = {"1-2", "--1", "1+2", "1e5-3", "1.5-", "-"};

        for (size_t k = 0; k < sizeof(valid) / sizeof(valid[0]) + sizeof(invalid) / sizeof(invalid[0]);
             k++) {
                bool ok = k < sizeof(valid) / sizeof(valid[0]);
                const char *num = ok ? valid[k] : invalid[k - sizeof(valid) / sizeof(valid[0])];
                char doc[64];
                size_t len = (size_t)snprintf(doc, sizeof(doc), "{\"n\": %s}", num);

                for (size_t cut = 1; cut < len; cut++) {
                        _cleanup_(qmp_framer_freep) struct qmp_framer *f = NULL;
                        size_t pieces[2] = {cut, len}, n = 0;
                        struct json_object *got[1];
                        int r;

                        ck_assert_int_eq(qmp_framer_new(1024, &f), 0);
                        r = feed_pieces(f, doc, len, pieces, 2, got, 1, &n);
                        if (!ok) {
                                ck_assert_msg(r == -EBADMSG, "%s split at %zu: accepted", doc, cut);
                                continue;
                        }
                        ck_assert_msg(r == 0 && n == 1, "%s split at %zu: %s", doc, cut,
                                      qmp_framer_error(f));
                        ck_assert_double_eq_tol(json_object_get_double(json_object_object_get(got[0], "n")),
                                                strtod(num, NULL), 1e-20);
                        json_object_put(got[0]);
                }
        }
}
END_TEST

START_TEST(test_not_an_object)
{
        static const char *const bad[] = {"[1, 2]", "1 ", "\"str\"", "null ", "true "};

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                _cleanup_(qmp_framer_freep) struct qmp_framer *f = NULL;

                ck_assert_int_eq(qmp_framer_new(1024, &f), 0);
                ck_assert_int_eq(feed_all(f, bad[i], strlen(bad[i])), -EBADMSG);
                ck_assert_ptr_nonnull(strstr(qmp_framer_error(f), "expected a JSON object"));
        }
}
END_TEST

START_TEST(test_max_object_size)
{
        _cleanup_(qmp_framer_freep) struct qmp_framer *f = NULL;
        static const char exact[] = "{\"abcd\":1}"; /* 10 bytes */
        static const char big[] = "{\"abcde\":1}";  /* 11 bytes */
        struct json_object *obj;
        size_t used;

        ck_assert_int_eq(qmp_framer_new(10, &f), 0);
        /* Exactly the limit, surrounded by whitespace that does not count, many times over. */
        for (int i = 0; i < 5; i++)
                ck_assert_int_eq(feed_all(f, "   {\"abcd\":1}  \r\n", 17), 0);
        ck_assert_int_eq(feed_all(f, exact, 10), 0);

        /* One byte more fails, whether fed at once or byte by byte. */
        ck_assert_int_eq(feed_all(f, big, 11), -EMSGSIZE);
        ck_assert_ptr_nonnull(strstr(qmp_framer_error(f), "10 byte limit"));
        qmp_framer_reset(f);
        for (size_t i = 0; i < 10; i++)
                ck_assert_int_eq(qmp_framer_feed(f, big + i, 1, &used, &obj), i < 9 ? 0 : -EMSGSIZE);

        /* An endless string never grows the framer past the limit. */
        qmp_framer_reset(f);
        qmp_framer_set_max_object(f, 4096);
        ck_assert_int_eq(feed_all(f, "{\"a\": \"", 7), 0);
        for (int i = 0; i < 100; i++) {
                static const char chunk[] =
                        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
                int r = feed_all(f, chunk, sizeof(chunk) - 1);

                if (r < 0) {
                        ck_assert_int_eq(r, -EMSGSIZE);
                        ck_assert_int_eq(i, (4096 - 7) / 72);
                        return;
                }
        }
        ck_abort_msg("endless string was accepted");
}
END_TEST

START_TEST(test_nesting)
{
        _cleanup_(qmp_framer_freep) struct qmp_framer *f = NULL;
        char buf[1024];
        size_t n = 0;

        ck_assert_int_eq(qmp_framer_new(sizeof(buf), &f), 0);
        /* 100 levels: deeper than json-c's default, fine for QMP. */
        for (int i = 0; i < 100; i++)
                n += (size_t)snprintf(buf + n, sizeof(buf) - n, "{\"a\":");
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "1");
        for (int i = 0; i < 100; i++)
                buf[n++] = '}';
        ck_assert_int_eq(feed_all(f, buf, n), 0);

        /* 200 levels are refused rather than recursed into. */
        n = 0;
        for (int i = 0; i < 200; i++) {
                memcpy(buf + n, "{\"a\":", 5);
                n += 5;
        }
        ck_assert_int_eq(feed_all(f, buf, n), -EBADMSG);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("qmp-framer");
        TCase *tc = tcase_create("core");
        SRunner *sr;
        int failed;

        tcase_add_test(tc, test_one_chunk_several_objects);
        tcase_add_test(tc, test_every_split_point);
        tcase_add_test(tc, test_mid_object_and_whitespace);
        tcase_add_test(tc, test_garbage);
        tcase_add_test(tc, test_error_names_position);
        tcase_add_test(tc, test_embedded_nul);
        tcase_add_test(tc, test_utf8);
        tcase_add_test(tc, test_garbage_after_object);
        tcase_add_test(tc, test_numbers_split);
        tcase_add_test(tc, test_not_an_object);
        tcase_add_test(tc, test_max_object_size);
        tcase_add_test(tc, test_nesting);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
