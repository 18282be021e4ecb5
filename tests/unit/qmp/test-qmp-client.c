/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The QMP client against a scripted peer on a socketpair (see qmp-peer.h). */
#include <check.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "../test-util.h"
#include "qmp-peer.h"
#include "vnuma/qmp/qmp.h"

#define N(steps) (sizeof(steps) / sizeof((steps)[0]))

static struct qmp_client *connect_peer(const struct peer_step *steps, size_t n, struct peer **ret_peer)
{
        struct qmp_client *c = NULL;
        int fd;

        ck_assert_int_eq(peer_start(steps, n, &fd, ret_peer), 0);
        ck_assert_int_eq(qmp_client_connect_fd(fd, 2000, &c), 0);
        ck_assert_ptr_nonnull(c);
        return c;
}

/* Close the client, then check the peer saw the script and `after` further commands. */
static void finish(struct qmp_client *c, struct peer *p, size_t after)
{
        const char *failure;

        qmp_client_free(c);
        failure = peer_finish(p);
        ck_assert_msg(failure[0] == '\0', "peer: %s", failure);
        ck_assert_uint_eq(p->commands_after_script, after);
        peer_free(p);
}

static long long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A timeout must not act early; how late it acts is reported, not judged, since a loaded machine
 * or valgrind stretches it. The peer's script ends long before 30 s, so a timeout that never
 * acted shows up as a wrong result, not as a slow one. */
static void report_latency(const char *what, long long dt)
{
        fprintf(stderr, "%s: timed out after %lld ms\n", what, dt);
        ck_assert_int_ge(dt, 95);
        ck_assert_int_lt(dt, 30000);
}

static const char *event_name(struct json_object *ev)
{
        return json_object_get_string(json_object_object_get(ev, "event"));
}

START_TEST(test_greeting_and_capabilities)
{
        static const struct peer_step steps[] = {
                HANDSHAKE,
                EXPECT("query-version"),
                SEND("{\"return\": {\"qemu\": {\"micro\": 3, \"minor\": 2, \"major\": 7}, \"package\": "
                     "\"x\"}, "
                     "\"id\": \"$ID\"}\r\n"),
                EXPECT("query-status"),
                SEND("{\"return\": {\"status\": \"prelaunch\", \"running\": false}, \"id\": \"$ID\"}\r\n"),
        };
        struct json_object *ret = NULL, *ev = NULL;
        struct qmp_client *c;
        struct peer *p;
        int major, minor, micro;

        c = connect_peer(steps, N(steps), &p);
        qmp_client_version(c, &major, &minor, &micro);
        ck_assert_int_eq(major, 7);
        ck_assert_int_eq(minor, 2);
        ck_assert_int_eq(micro, 3);

        ck_assert_int_eq(qmp_client_execute(c, "query-version", NULL, &ret), 0);
        ck_assert_int_eq(
                json_object_get_int(json_object_object_get(json_object_object_get(ret, "qemu"), "minor")),
                2);
        json_object_put(ret);
        ret = NULL;
        ck_assert_int_eq(qmp_client_execute(c, "query-status", NULL, &ret), 0);
        ck_assert_str_eq(json_object_get_string(json_object_object_get(ret, "status")), "prelaunch");
        json_object_put(ret);
        ck_assert_int_eq(qmp_client_pop_event(c, &ev), 0);

        /* Every command carried its own id. */
        ck_assert_uint_eq(p->n_ids, 3);
        ck_assert_str_ne(p->ids[0], p->ids[1]);
        ck_assert_str_ne(p->ids[1], p->ids[2]);
        ck_assert_str_ne(p->ids[0], p->ids[2]);
        ck_assert_msg(strncmp(p->ids[2], "vnuma-", 6) == 0, "id %s", p->ids[2]);
        finish(c, p, 0);
}
END_TEST

START_TEST(test_split_byte_by_byte)
{
        static const struct peer_step steps[] = {
                SEND_SPLIT(GREETING, 1, 0),
                EXPECT("qmp_capabilities"),
                SEND_SPLIT(RETURN_EMPTY, 1, 1),
                EXPECT("query-name"),
                SEND_SPLIT("{\"return\": {\"name\": \"g\\u00e9st \\\"1\\\"\"}, \"id\": \"$ID\"}\r\n", 1, 1),
                EXPECT("query-kvm"),
                SEND_SPLIT("{\"return\": {\"enabled\": false, \"present\": true}, \"id\": \"$ID\"}\r\n", 3,
                           1),
        };
        struct json_object *ret = NULL;
        struct qmp_client *c;
        struct peer *p;

        c = connect_peer(steps, N(steps), &p);
        ck_assert_int_eq(qmp_client_execute(c, "query-name", NULL, &ret), 0);
        ck_assert_str_eq(json_object_get_string(json_object_object_get(ret, "name")), "g\xc3\xa9st \"1\"");
        json_object_put(ret);
        ret = NULL;
        ck_assert_int_eq(qmp_client_execute(c, "query-kvm", NULL, &ret), 0);
        ck_assert(json_object_get_boolean(json_object_object_get(ret, "present")));
        ck_assert(!json_object_get_boolean(json_object_object_get(ret, "enabled")));
        json_object_put(ret);
        finish(c, p, 0);
}
END_TEST

START_TEST(test_several_objects_in_one_write)
{
        static const struct peer_step steps[] = {
                /* Greeting alone, then the capabilities reply and an event in one write. */
                SEND(GREETING),
                EXPECT("qmp_capabilities"),
                SEND("{\"return\": {}, \"id\": \"$ID\"}\r\n{\"event\": \"E1\", \"data\": {\"n\": 1}}\r\n"),
                EXPECT("query-status"),
                SEND("{\"event\": \"E2\"}\r\n{\"return\": {\"status\": \"running\"}, \"id\": \"$ID\"}\r\n"
                     "{\"event\": \"E3\"}\r\n{\"event\": \"E4\"}"),
        };
        struct json_object *ret = NULL, *ev;
        struct qmp_client *c;
        struct peer *p;

        c = connect_peer(steps, N(steps), &p);
        ck_assert_int_eq(qmp_client_execute(c, "query-status", NULL, &ret), 0);
        ck_assert_str_eq(json_object_get_string(json_object_object_get(ret, "status")), "running");
        json_object_put(ret);
        /* Events before and after the reply, all queued in arrival order. */
        for (int i = 1; i <= 4; i++) {
                char name[4];

                snprintf(name, sizeof(name), "E%d", i);
                ck_assert_int_eq(qmp_client_pop_event(c, &ev), 1);
                ck_assert_str_eq(event_name(ev), name);
                if (i == 1)
                        ck_assert_int_eq(json_object_get_int(json_object_object_get(
                                                 json_object_object_get(ev, "data"), "n")),
                                         1);
                json_object_put(ev);
        }
        ck_assert_int_eq(qmp_client_pop_event(c, &ev), 0);
        finish(c, p, 0);
}
END_TEST

START_TEST(test_events_around_replies)
{
        static const struct peer_step steps[] = {
                HANDSHAKE,
                /* QEMU sends RESUME before the reply to the cont that caused it. */
                EXPECT("cont"),
                SEND("{\"timestamp\": {\"seconds\": 1, \"microseconds\": 5}, \"event\": \"RESUME\"}\r\n"),
                SLEEP(20),
                SEND(RETURN_EMPTY),
                EXPECT("stop"),
                SEND(RETURN_EMPTY),
                SLEEP(20),
                SEND("{\"timestamp\": {\"seconds\": 2, \"microseconds\": 0}, \"event\": \"STOP\"}\r\n"),
                SLEEP(20),
                SEND("{\"event\": \"SHUTDOWN\", \"data\": {\"guest\": false}}\r\n"),
        };
        struct json_object *ev;
        struct qmp_client *c;
        struct peer *p;

        c = connect_peer(steps, N(steps), &p);
        ck_assert_int_eq(qmp_client_execute(c, "cont", NULL, NULL), 0);
        ck_assert_int_eq(qmp_client_execute(c, "stop", NULL, NULL), 0);
        /* RESUME was queued while cont waited for its reply; it stays queued across stop. */
        ck_assert_int_eq(qmp_client_poll_events(c, 2000), 1);
        ck_assert_int_eq(qmp_client_pop_event(c, &ev), 1);
        ck_assert_str_eq(event_name(ev), "RESUME");
        ck_assert_int_eq(json_object_get_int(json_object_object_get(json_object_object_get(ev, "timestamp"),
                                                                    "microseconds")),
                         5);
        json_object_put(ev);
        ck_assert_int_eq(qmp_client_pop_event(c, &ev), 0);
        /* STOP comes 20 ms after stop's reply: poll waits for it (a slow run may see SHUTDOWN too). */
        ck_assert_int_ge(qmp_client_poll_events(c, 2000), 1);
        ck_assert_int_eq(qmp_client_pop_event(c, &ev), 1);
        ck_assert_str_eq(event_name(ev), "STOP");
        json_object_put(ev);
        ck_assert_int_eq(qmp_client_poll_events(c, 2000), 1);
        ck_assert_int_eq(qmp_client_pop_event(c, &ev), 1);
        ck_assert_str_eq(event_name(ev), "SHUTDOWN");
        json_object_put(ev);
        ck_assert_int_eq(qmp_client_pop_event(c, &ev), 0);
        finish(c, p, 0);
}
END_TEST

START_TEST(test_poll_events_quiet)
{
        static const struct peer_step steps[] = {
                HANDSHAKE,
                EXPECT("query-status"),
                SEND("{\"return\": {\"status\": \"paused\"}, \"id\": \"$ID\"}\r\n"),
        };
        struct json_object *ret = NULL;
        struct qmp_client *c;
        struct peer *p;
        long long t0;

        c = connect_peer(steps, N(steps), &p);
        t0 = now_ms();
        ck_assert_int_eq(qmp_client_poll_events(c, 100), 0);
        ck_assert_int_ge(now_ms() - t0, 95);
        ck_assert_int_eq(qmp_client_poll_events(c, 0), 0);
        /* A quiet peer is no failure: the connection still works. */
        ck_assert_int_eq(qmp_client_execute(c, "query-status", NULL, &ret), 0);
        ck_assert_str_eq(json_object_get_string(json_object_object_get(ret, "status")), "paused");
        json_object_put(ret);
        finish(c, p, 0);
}
END_TEST

START_TEST(test_error_replies)
{
        static const struct peer_step steps[] = {
                HANDSHAKE,
                EXPECT("qom-set"),
                SEND("{\"error\": {\"class\": \"GenericError\", \"desc\": \"Property 'x' not found\"}, "
                     "\"id\": \"$ID\"}\r\n"),
                EXPECT("query-nothing"),
                SEND("{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command query-nothing "
                     "has not "
                     "been found\"}, \"id\": \"$ID\"}\r\n"),
                EXPECT_ARGS("device_del", "{\"id\": \"nic9\"}"),
                SEND("{\"id\": \"$ID\", \"error\": {\"class\": \"DeviceNotFound\", \"desc\": \"Device "
                     "'nic9' not "
                     "found\"}}\r\n"),
                EXPECT("query-status"),
                SEND("{\"return\": {\"status\": \"running\"}, \"id\": \"$ID\"}\r\n"),
        };
        struct json_object *ret = NULL, *args;
        const struct qmp_error *e;
        struct qmp_client *c;
        struct peer *p;

        c = connect_peer(steps, N(steps), &p);
        ck_assert_str_eq(qmp_client_error_message(c), "no error");

        ck_assert_int_eq(qmp_client_execute(c, "qom-set", NULL, &ret), -EREMOTEIO);
        ck_assert_ptr_null(ret);
        e = qmp_client_last_error(c);
        ck_assert_str_eq(e->command, "qom-set");
        ck_assert_str_eq(e->klass, "GenericError");
        ck_assert_str_eq(e->desc, "Property 'x' not found");
        ck_assert_str_eq(qmp_client_error_message(c), "qom-set: GenericError: Property 'x' not found");

        ck_assert_int_eq(qmp_client_execute(c, "query-nothing", NULL, &ret), -EOPNOTSUPP);
        ck_assert_str_eq(qmp_client_last_error(c)->klass, "CommandNotFound");

        args = json_tokener_parse("{\"id\": \"nic9\"}");
        ck_assert_int_eq(qmp_client_execute(c, "device_del", args, &ret), -ENODEV);
        json_object_put(args);
        ck_assert_str_eq(qmp_client_error_message(c), "device_del: DeviceNotFound: Device 'nic9' not found");

        /* Error replies leave the connection usable. */
        ck_assert_int_eq(qmp_client_execute(c, "query-status", NULL, &ret), 0);
        ck_assert_str_eq(json_object_get_string(json_object_object_get(ret, "status")), "running");
        json_object_put(ret);
        finish(c, p, 0);
}
END_TEST

START_TEST(test_parse_error_without_id)
{
        static const struct peer_step steps[] = {
                HANDSHAKE,
                EXPECT("query-status"),
                SEND("{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, invalid "
                     "keyword "
                     "'x'\"}}\r\n"),
                EXPECT("query-status"),
                SEND("{\"return\": {\"status\": \"running\"}, \"id\": \"$ID\"}\r\n"),
        };
        struct json_object *ret = NULL;
        struct qmp_client *c;
        struct peer *p;

        c = connect_peer(steps, N(steps), &p);
        ck_assert_int_eq(qmp_client_execute(c, "query-status", NULL, &ret), -EREMOTEIO);
        ck_assert_str_eq(qmp_client_last_error(c)->klass, "GenericError");
        ck_assert_str_eq(qmp_client_last_error(c)->desc, "JSON parse error, invalid keyword 'x'");
        ck_assert_int_eq(qmp_client_execute(c, "query-status", NULL, &ret), 0);
        json_object_put(ret);
        finish(c, p, 0);
}
END_TEST

START_TEST(test_foreign_replies_dropped)
{
        static const struct peer_step steps[] = {
                HANDSHAKE,
                EXPECT("query-status"),
                /* A reply for another id, an id-less return, a stray greeting: none is ours. */
                SEND("{\"return\": {\"status\": \"WRONG\"}, \"id\": \"other-1\"}\r\n"
                     "{\"return\": {\"status\": \"WRONG2\"}, \"id\": 17}\r\n"
                     "{\"return\": {\"status\": \"WRONG3\"}}\r\n" GREETING
                     "{\"return\": {\"status\": \"running\"}, \"id\": \"$ID\"}\r\n"),
                EXPECT("query-name"),
                SEND("{\"return\": {}, \"id\": \"$ID\"}\r\n"),
        };
        struct json_object *ret = NULL;
        struct qmp_client *c;
        struct peer *p;

        c = connect_peer(steps, N(steps), &p);
        ck_assert_int_eq(qmp_client_execute(c, "query-status", NULL, &ret), 0);
        ck_assert_str_eq(json_object_get_string(json_object_object_get(ret, "status")), "running");
        json_object_put(ret);
        ret = NULL;
        ck_assert_int_eq(qmp_client_execute(c, "query-name", NULL, &ret), 0);
        ck_assert_int_eq(json_object_object_length(ret), 0);
        json_object_put(ret);
        finish(c, p, 0);
}
END_TEST

START_TEST(test_reply_without_return_or_error)
{
        static const struct peer_step steps[] = {
                HANDSHAKE,
                EXPECT("query-status"),
                SEND("{\"id\": \"$ID\", \"result\": 1}\r\n"),
                EXPECT("query-status"),
                SEND("{\"return\": {}, \"id\": \"$ID\"}\r\n"),
        };
        struct json_object *ret = NULL;
        struct qmp_client *c;
        struct peer *p;

        c = connect_peer(steps, N(steps), &p);
        ck_assert_int_eq(qmp_client_execute(c, "query-status", NULL, &ret), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(qmp_client_error_message(c), "query-status: invalid reply"));
        /* The framing is intact, so the connection stays usable. */
        ck_assert_int_eq(qmp_client_execute(c, "query-status", NULL, &ret), 0);
        json_object_put(ret);
        finish(c, p, 0);
}
END_TEST

START_TEST(test_eof_mid_object)
{
        static const struct peer_step steps[] = {
                HANDSHAKE, EXPECT("query-status"), SEND("{\"return\": {\"status\": \"runn"), SLEEP(20),
                CLOSE(),
        };
        struct json_object *ret = NULL;
        struct qmp_client *c;
        struct peer *p;

        c = connect_peer(steps, N(steps), &p);
        ck_assert_int_eq(qmp_client_execute(c, "query-status", NULL, &ret), -ECONNRESET);
        ck_assert_ptr_null(ret);
        ck_assert_ptr_nonnull(strstr(qmp_client_error_message(c), "in the middle of a message"));
        /* Later calls fail fast with the same error. */
        ck_assert_int_eq(qmp_client_execute(c, "query-status", NULL, &ret), -ECONNRESET);
        ck_assert_int_eq(qmp_client_poll_events(c, 1000), -ECONNRESET);
        ck_assert_ptr_null(qmp_client_last_error(c)->command);
        finish(c, p, 0);
}
END_TEST

START_TEST(test_eof_between_messages)
{
        static const struct peer_step steps[] = {
                HANDSHAKE,
                SEND("{\"event\": \"SHUTDOWN\", \"data\": {\"guest\": true}}\r\n"),
                CLOSE(),
        };
        struct json_object *ev;
        struct qmp_client *c;
        struct peer *p;

        c = connect_peer(steps, N(steps), &p);
        /* Wait until the peer is gone: the event and the EOF are both there by now. */
        usleep(100 * 1000);
        /* The failure waits until the event that came before it was popped. */
        ck_assert_int_eq(qmp_client_poll_events(c, 1000), 1);
        ck_assert_int_eq(qmp_client_poll_events(c, 1000), 1);
        ck_assert_int_eq(qmp_client_pop_event(c, &ev), 1);
        ck_assert_str_eq(event_name(ev), "SHUTDOWN");
        json_object_put(ev);
        ck_assert_int_eq(qmp_client_poll_events(c, 1000), -ECONNRESET);
        /* Session errors have no command: the message is the description alone. */
        ck_assert_ptr_null(qmp_client_last_error(c)->command);
        ck_assert_str_eq(qmp_client_error_message(c), "QMP peer closed the connection");
        ck_assert_int_eq(qmp_client_poll_events(c, 1000), -ECONNRESET);
        ck_assert_str_eq(qmp_client_error_message(c),
                         "connection unusable since an earlier failure: QMP peer closed the connection");
        finish(c, p, 0);
}
END_TEST

START_TEST(test_oversized_reply)
{
        static const struct peer_step steps[] = {
                HANDSHAKE,
                EXPECT("query-small"),
                SEND("{\"return\": {\"a\": 1}, \"id\": \"$ID\"}\r\n"),
                EXPECT("query-big"),
                SEND("{\"return\": "
                     "\"0123456789012345678901234567890123456789012345678901234567890123456789\", "
                     "\"id\": \"$ID\"}\r\n"),
        };
        struct json_object *ret = NULL;
        struct qmp_client *c;
        struct peer *p;

        c = connect_peer(steps, N(steps), &p);
        qmp_client_set_max_reply(c, 64);
        ck_assert_int_eq(qmp_client_execute(c, "query-small", NULL, &ret), 0);
        ck_assert_int_eq(json_object_get_int(json_object_object_get(ret, "a")), 1);
        json_object_put(ret);
        ret = NULL;
        ck_assert_int_eq(qmp_client_execute(c, "query-big", NULL, &ret), -EMSGSIZE);
        ck_assert_ptr_null(ret);
        ck_assert_ptr_nonnull(strstr(qmp_client_error_message(c), "64 byte limit"));
        ck_assert_int_eq(qmp_client_execute(c, "query-small", NULL, &ret), -EMSGSIZE);
        finish(c, p, 0);
}
END_TEST

START_TEST(test_garbage)
{
        static const struct peer_step steps[] = {
                HANDSHAKE,
                EXPECT("query-status"),
                SEND("{\"return\": {}, \"id\": \"$ID\"} oops\r\n"),
        };
        struct json_object *ret = NULL;
        struct qmp_client *c;
        struct peer *p;

        c = connect_peer(steps, N(steps), &p);
        /* The reply arrived intact, so this call succeeds; the garbage behind it breaks the stream. */
        ck_assert_int_eq(qmp_client_execute(c, "query-status", NULL, &ret), 0);
        json_object_put(ret);
        ck_assert_int_eq(qmp_client_execute(c, "query-status", NULL, &ret), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(qmp_client_error_message(c), "expected a JSON object"));
        finish(c, p, 0);
}
END_TEST

START_TEST(test_garbage_instead_of_reply)
{
        static const struct peer_step steps[] = {
                HANDSHAKE,
                EXPECT("query-status"),
                SEND("{\"return\": {\"status\": 1}, \"id\": \"$ID\"\r\n garbage"),
        };
        struct json_object *ret = NULL;
        struct qmp_client *c;
        struct peer *p;

        c = connect_peer(steps, N(steps), &p);
        ck_assert_int_eq(qmp_client_execute(c, "query-status", NULL, &ret), -EBADMSG);
        ck_assert_str_eq(qmp_client_last_error(c)->command, "query-status");
        ck_assert_ptr_nonnull(strstr(qmp_client_last_error(c)->desc, "invalid JSON"));
        ck_assert_int_eq(qmp_client_execute(c, "query-status", NULL, &ret), -EBADMSG);
        finish(c, p, 0);
}
END_TEST

START_TEST(test_non_object_top_level)
{
        static const struct peer_step steps[] = {
                HANDSHAKE,
                EXPECT("query-status"),
                SEND("[{\"return\": {}, \"id\": \"$ID\"}]\r\n"),
        };
        struct json_object *ret = NULL;
        struct qmp_client *c;
        struct peer *p;

        c = connect_peer(steps, N(steps), &p);
        ck_assert_int_eq(qmp_client_execute(c, "query-status", NULL, &ret), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(qmp_client_error_message(c), "expected a JSON object, got byte 0x5b"));
        finish(c, p, 0);
}
END_TEST

START_TEST(test_timeout_then_late_reply)
{
        static const struct peer_step steps[] = {
                HANDSHAKE,
                EXPECT("query-slow"),
                SLEEP(200),
                SEND("{\"return\": {\"late\": true}, \"id\": \"$ID\"}\r\n"),
        };
        struct json_object *ret = NULL;
        struct qmp_client *c;
        struct peer *p;
        long long t0, dt;

        c = connect_peer(steps, N(steps), &p);
        qmp_client_set_timeout(c, 100);
        t0 = now_ms();
        ck_assert_int_eq(qmp_client_execute(c, "query-slow", NULL, &ret), -ETIMEDOUT);
        dt = now_ms() - t0;
        report_latency("query-slow with a 100 ms timeout", dt);
        ck_assert_str_eq(qmp_client_error_message(c), "query-slow: no reply within 100 ms");

        /* The late reply is there now, but the connection stays failed and sends nothing more
         * (the peer counts commands after its script). */
        usleep(300 * 1000);
        ck_assert_int_eq(qmp_client_execute(c, "query-next", NULL, &ret), -ETIMEDOUT);
        ck_assert_ptr_null(ret);
        ck_assert_ptr_nonnull(strstr(qmp_client_error_message(c), "query-next: connection unusable"));
        finish(c, p, 0);
}
END_TEST

START_TEST(test_budget_over_calls)
{
        static const struct peer_step steps[] = {
                HANDSHAKE,
                EXPECT("query-one"),
                SLEEP(600),
                SEND("{\"return\": {}, \"id\": \"$ID\"}\r\n"),
                EXPECT("query-two"),
                SLEEP(600),
                SEND("{\"return\": {}, \"id\": \"$ID\"}\r\n"),
        };
        struct json_object *ret = NULL;
        struct qmp_client *c;
        struct peer *p;
        long long t0, dt;

        /* Each reply comes well within the 5 s per-call timeout, but the two together exceed
         * the 1 s budget: the second call fails when the budget ends, not 5 s later. */
        c = connect_peer(steps, N(steps), &p);
        qmp_client_set_timeout(c, 5000);
        t0 = now_ms();
        qmp_client_set_budget(c, 1000);
        ck_assert_int_eq(qmp_client_execute(c, "query-one", NULL, &ret), 0);
        json_object_put(ret);
        ret = NULL;
        ck_assert_int_eq(qmp_client_execute(c, "query-two", NULL, &ret), -ETIMEDOUT);
        dt = now_ms() - t0;
        ck_assert_ptr_null(ret);
        ck_assert_str_eq(qmp_client_error_message(c),
                         "query-two: no reply before the query's time budget of 1000 ms ran out");
        fprintf(stderr, "two calls under a 1000 ms budget: failed after %lld ms\n", dt);
        ck_assert_int_ge(dt, 995);
        ck_assert_int_lt(dt, 5000);
        usleep(400 * 1000); /* let the peer finish its script before the client hangs up */
        finish(c, p, 0);
}
END_TEST

/* A peer that floods events nobody reads: the queue keeps the newest few and counts the rest. */
START_TEST(test_event_flood)
{
        static char flood[300 * 64 + 128];
        struct peer_step steps[] = {
                HANDSHAKE,
                EXPECT("query-status"),
                SEND(flood),
        };
        struct json_object *ret = NULL, *ev;
        struct qmp_client *c;
        struct peer *p;
        size_t len = 0;
        int n = 0, last = -1;

        for (int i = 0; i < 300; i++)
                len += (size_t)snprintf(flood + len, sizeof(flood) - len,
                                        "{\"event\": \"E\", \"data\": {\"n\": %d}}\r\n", i);
        snprintf(flood + len, sizeof(flood) - len, "{\"return\": {}, \"id\": \"$ID\"}\r\n");

        c = connect_peer(steps, N(steps), &p);
        ck_assert_int_eq(qmp_client_execute(c, "query-status", NULL, &ret), 0);
        json_object_put(ret);
        while (qmp_client_pop_event(c, &ev) == 1) {
                last = json_object_get_int(json_object_object_get(json_object_object_get(ev, "data"), "n"));
                json_object_put(ev);
                n++;
        }
        ck_assert_int_eq(n, 64);
        ck_assert_int_eq(last, 299); /* the newest are kept */
        ck_assert_uint_eq(qmp_client_events_dropped(c), 300 - 64);
        finish(c, p, 0);
}
END_TEST

START_TEST(test_never_greets)
{
        static const struct peer_step steps[] = {SLEEP(1)};
        struct qmp_client *c = NULL;
        struct peer *p;
        long long t0, dt;
        int fd;

        /* A silent peer is indistinguishable from a slow one: -ETIMEDOUT. */
        ck_assert_int_eq(peer_start(steps, N(steps), &fd, &p), 0);
        t0 = now_ms();
        ck_assert_int_eq(qmp_client_connect_fd(fd, 100, &c), -ETIMEDOUT);
        dt = now_ms() - t0;
        ck_assert_ptr_null(c);
        report_latency("a peer that never greets, 100 ms timeout", dt);
        finish(NULL, p, 0);
}
END_TEST

START_TEST(test_not_qmp)
{
        /* An HMP monitor, a JSON object that is not a greeting, and an event first. */
        static const struct peer_step hmp[] = {
                SEND("QEMU 7.2.0 monitor - type 'help' for more information\r\n")};
        static const struct peer_step reply[] = {SEND("{\"return\": {}}\r\n")};
        static const struct peer_step event[] = {SEND("{\"event\": \"STOP\"}\r\n" GREETING)};
        static const struct peer_step eof[] = {SEND("{\"QMP\": {\"version\""), CLOSE()};
        struct qmp_client *c = NULL;
        struct peer *p;
        int fd;

        ck_assert_int_eq(peer_start(hmp, N(hmp), &fd, &p), 0);
        ck_assert_int_eq(qmp_client_connect_fd(fd, 1000, &c), -EPROTO);
        finish(NULL, p, 0);
        ck_assert_int_eq(peer_start(reply, N(reply), &fd, &p), 0);
        ck_assert_int_eq(qmp_client_connect_fd(fd, 1000, &c), -EPROTO);
        finish(NULL, p, 0);
        ck_assert_int_eq(peer_start(event, N(event), &fd, &p), 0);
        ck_assert_int_eq(qmp_client_connect_fd(fd, 1000, &c), -EPROTO);
        finish(NULL, p, 0);
        ck_assert_int_eq(peer_start(eof, N(eof), &fd, &p), 0);
        ck_assert_int_eq(qmp_client_connect_fd(fd, 1000, &c), -ECONNRESET);
        finish(NULL, p, 0);
        ck_assert_ptr_null(c);
}
END_TEST

START_TEST(test_capabilities_refused)
{
        static const struct peer_step steps[] = {
                SEND(GREETING),
                EXPECT("qmp_capabilities"),
                SEND("{\"error\": {\"class\": \"GenericError\", \"desc\": \"Capability negotiation is "
                     "already "
                     "complete\"}, \"id\": \"$ID\"}\r\n"),
        };
        struct qmp_client *c = NULL;
        struct peer *p;
        int fd;

        ck_assert_int_eq(peer_start(steps, N(steps), &fd, &p), 0);
        ck_assert_int_eq(qmp_client_connect_fd(fd, 1000, &c), -EREMOTEIO);
        ck_assert_ptr_null(c);
        finish(NULL, p, 0);
}
END_TEST

START_TEST(test_hmp)
{
        static const struct peer_step steps[] = {
                HANDSHAKE,
                EXPECT_ARGS("human-monitor-command", "{\"command-line\": \"info numa\"}"),
                SEND("{\"return\": \"2 nodes\\r\\nnode 0 cpus: 0 1\\r\\nnode 0 size: 256 MB\\r\\n\", "
                     "\"id\": "
                     "\"$ID\"}\r\n"),
                EXPECT_ARGS("human-monitor-command", "{\"command-line\": \"info version\"}"),
                SEND("{\"return\": {\"not\": \"a string\"}, \"id\": \"$ID\"}\r\n"),
        };
        struct qmp_client *c;
        struct peer *p;
        char *text = NULL;

        c = connect_peer(steps, N(steps), &p);
        ck_assert_int_eq(qmp_client_hmp(c, "info numa", &text), 0);
        ck_assert_str_eq(text, "2 nodes\r\nnode 0 cpus: 0 1\r\nnode 0 size: 256 MB\r\n");
        free(text);
        text = NULL;
        ck_assert_int_eq(qmp_client_hmp(c, "info version", &text), -EBADMSG);
        ck_assert_ptr_null(text);
        ck_assert_str_eq(qmp_client_last_error(c)->command, "human-monitor-command");
        finish(c, p, 0);
}
END_TEST

/* An `info mtree -f` sized reply (~600 KB), spread over many reads. */
START_TEST(test_large_hmp_reply)
{
        const size_t lines = 12000;
        struct peer_step steps[] = {
                HANDSHAKE,
                EXPECT_ARGS("human-monitor-command", "{\"command-line\": \"info mtree -f\"}"),
                SEND(NULL),
        };
        const char *line = "  0000000000000000-000000000009ffff (prio 0, ram): ram-node0 KVM\\r\\n";
        size_t line_len = strlen(line), len = 0;
        struct qmp_client *c;
        struct peer *p;
        char *reply, *text = NULL;

        reply = malloc(lines * line_len + 64);
        ck_assert_ptr_nonnull(reply);
        len += (size_t)sprintf(reply, "{\"return\": \"");
        for (size_t i = 0; i < lines; i++) {
                memcpy(reply + len, line, line_len);
                len += line_len;
        }
        len += (size_t)sprintf(reply + len, "\", \"id\": \"$ID\"}\r\n");
        steps[N(steps) - 1].text = reply;

        c = connect_peer(steps, N(steps), &p);
        ck_assert_int_eq(qmp_client_hmp(c, "info mtree -f", &text), 0);
        /* Each escaped "\r\n" decodes to two bytes. */
        ck_assert_uint_eq(strlen(text), lines * (line_len - 2));
        ck_assert(strncmp(text, "  0000000000000000-000000000009ffff (prio 0, ram): ram-node0 KVM\r\n",
                          66) == 0);
        free(text);
        finish(c, p, 0);
        free(reply);
}
END_TEST

START_TEST(test_connect_unix)
{
        static const struct peer_step steps[] = {
                HANDSHAKE,
                EXPECT("query-status"),
                SEND("{\"return\": {\"status\": \"running\"}, \"id\": \"$ID\"}\r\n"),
        };
        _cleanup_free_ char *dir = NULL;
        char path[128], long_path[200];
        struct json_object *ret = NULL;
        struct qmp_client *c = NULL;
        struct peer *p;

        ck_assert_int_eq(test_make_tmpdir("vnuma-qmp-test", &dir), 0);
        snprintf(path, sizeof(path), "%s/qmp.sock", dir);
        ck_assert_int_eq(qmp_client_connect_unix(path, 500, &c), -ENOENT);
        memset(long_path, 'a', sizeof(long_path) - 1);
        long_path[0] = '/';
        long_path[sizeof(long_path) - 1] = '\0';
        ck_assert_int_eq(qmp_client_connect_unix(long_path, 500, &c), -ENAMETOOLONG);
        ck_assert_ptr_null(c);

        ck_assert_int_eq(peer_start_listening(steps, N(steps), path, &p), 0);
        ck_assert_int_eq(qmp_client_connect_unix(path, 2000, &c), 0);
        ck_assert_int_eq(qmp_client_execute(c, "query-status", NULL, &ret), 0);
        ck_assert_str_eq(json_object_get_string(json_object_object_get(ret, "status")), "running");
        json_object_put(ret);
        finish(c, p, 0);
        unlink(path);
        rmdir(dir);
}
END_TEST

START_TEST(test_invalid_arguments)
{
        static const struct peer_step steps[] = {HANDSHAKE};
        struct json_object *args = json_object_new_array();
        struct json_object *ret = NULL;
        struct qmp_client *c;
        struct peer *p;

        c = connect_peer(steps, N(steps), &p);
        ck_assert_int_eq(qmp_client_execute(c, "qom-get", args, &ret), -EINVAL);
        ck_assert_int_eq(qmp_client_execute(c, NULL, NULL, &ret), -EINVAL);
        ck_assert_ptr_null(ret);
        json_object_put(args);
        finish(c, p, 0);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("qmp-client");
        TCase *tc = tcase_create("scripted-peer");
        SRunner *sr;
        int failed;

        tcase_set_timeout(tc, 10);
        tcase_add_test(tc, test_greeting_and_capabilities);
        tcase_add_test(tc, test_split_byte_by_byte);
        tcase_add_test(tc, test_several_objects_in_one_write);
        tcase_add_test(tc, test_events_around_replies);
        tcase_add_test(tc, test_poll_events_quiet);
        tcase_add_test(tc, test_error_replies);
        tcase_add_test(tc, test_parse_error_without_id);
        tcase_add_test(tc, test_foreign_replies_dropped);
        tcase_add_test(tc, test_reply_without_return_or_error);
        tcase_add_test(tc, test_eof_mid_object);
        tcase_add_test(tc, test_eof_between_messages);
        tcase_add_test(tc, test_oversized_reply);
        tcase_add_test(tc, test_garbage);
        tcase_add_test(tc, test_garbage_instead_of_reply);
        tcase_add_test(tc, test_non_object_top_level);
        tcase_add_test(tc, test_timeout_then_late_reply);
        tcase_add_test(tc, test_budget_over_calls);
        tcase_add_test(tc, test_event_flood);
        tcase_add_test(tc, test_never_greets);
        tcase_add_test(tc, test_not_qmp);
        tcase_add_test(tc, test_capabilities_refused);
        tcase_add_test(tc, test_hmp);
        tcase_add_test(tc, test_large_hmp_reply);
        tcase_add_test(tc, test_connect_unix);
        tcase_add_test(tc, test_invalid_arguments);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
