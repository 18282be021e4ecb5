/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The QMP client over a command-level transport (the shape of libvirt's
 * virDomainQemuMonitorCommand), with an in-test fake. */
#include <check.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "vnuma/qmp/qmp.h"

struct fake {
        const char *const *replies; /* one per command; NULL entry = transport failure */
        size_t n_replies, next;
        int fail_with;
        char *last_command;
        int last_timeout;
        int *closed; /* counts close() calls; lives in the test */
};

static int fake_command(void *userdata, const char *command_json, int timeout_ms, char **ret_reply_json)
{
        struct fake *f = userdata;
        const char *reply;

        free(f->last_command);
        f->last_command = strdup(command_json);
        f->last_timeout = timeout_ms;
        ck_assert_uint_lt(f->next, f->n_replies);
        reply = f->replies[f->next++];
        if (!reply)
                return f->fail_with;
        *ret_reply_json = strdup(reply);
        return *ret_reply_json ? 0 : -ENOMEM;
}

static void fake_close(void *userdata)
{
        struct fake *f = userdata;

        (*f->closed)++;
        free(f->last_command);
        free(f);
}

static const struct qmp_transport_ops fake_ops = {
        .name = "fake-libvirt",
        .command = fake_command,
        .close = fake_close,
};

static struct fake *fake_new(const char *const *replies, size_t n, int *closed)
{
        struct fake *f = calloc(1, sizeof(*f));

        ck_assert_ptr_nonnull(f);
        f->replies = replies;
        f->n_replies = n;
        f->fail_with = -EIO;
        f->closed = closed;
        return f;
}

/* The command the transport was handed, parsed. */
static struct json_object *sent(const struct fake *f)
{
        struct json_object *o = json_tokener_parse(f->last_command);

        ck_assert_msg(o != NULL, "client sent invalid JSON: %s", f->last_command);
        return o;
}

START_TEST(test_execute)
{
        static const char *const replies[] = {
                "{\"return\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, \"package\": \"\"}, "
                "\"id\": \"libvirt-23\"}",
                "  {\"return\": [{\"cpu-index\": 0, \"thread-id\": 4242}], \"id\": \"libvirt-24\"}\r\n",
        };
        struct json_object *ret = NULL, *cmd, *args, *v, *ev;
        struct qmp_client *c = NULL;
        int closed = 0, major = -1, minor = -1, micro = -1;
        struct fake *f = fake_new(replies, 2, &closed);

        /* No greeting, no capabilities: nothing is sent at creation. */
        ck_assert_int_eq(qmp_client_new(&fake_ops, f, 1234, &c), 0);
        ck_assert_ptr_null(f->last_command);
        qmp_client_version(c, &major, &minor, &micro);
        ck_assert_int_eq(major + minor + micro, 0);

        ck_assert_int_eq(qmp_client_execute(c, "query-version", NULL, &ret), 0);
        ck_assert_int_eq(
                json_object_get_int(json_object_object_get(json_object_object_get(ret, "qemu"), "minor")),
                2);
        json_object_put(ret);
        /* What is left of the 1234 ms: a slow run (valgrind) may have used some. */
        ck_assert_int_le(f->last_timeout, 1234);
        ck_assert_int_gt(f->last_timeout, 1000);
        cmd = sent(f);
        ck_assert_str_eq(json_object_get_string(json_object_object_get(cmd, "execute")), "query-version");
        /* libvirt refuses commands that carry an id. */
        ck_assert(!json_object_object_get_ex(cmd, "id", NULL));
        ck_assert(!json_object_object_get_ex(cmd, "arguments", NULL));
        json_object_put(cmd);

        args = json_tokener_parse("{\"path\": \"/objects/m0\", \"property\": \"size\"}");
        ret = NULL;
        ck_assert_int_eq(qmp_client_execute(c, "qom-get", args, &ret), 0);
        ck_assert_int_eq(
                json_object_get_int(json_object_object_get(json_object_array_get_idx(ret, 0), "thread-id")),
                4242);
        json_object_put(ret);
        cmd = sent(f);
        ck_assert(json_object_object_get_ex(cmd, "arguments", &v));
        ck_assert(json_object_equal(v, args));
        json_object_put(cmd);
        json_object_put(args);

        /* No events on this kind of transport. */
        ck_assert_int_eq(qmp_client_poll_events(c, 100), 0);
        ck_assert_int_eq(qmp_client_pop_event(c, &ev), 0);

        qmp_client_free(c);
        ck_assert_int_eq(closed, 1);
}
END_TEST

START_TEST(test_errors_are_not_sticky)
{
        static const char *const replies[] = {
                "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command x has not been "
                "found\"}, "
                "\"id\": \"libvirt-1\"}",
                "not json",
                "{\"return\": {}}{\"return\": {}}",
                "[{\"return\": {}}]",
                "{\"return\": {}",
                "{\"event\": \"STOP\"}",
                NULL,
                "{\"return\": \"0123456789012345678901234567890123456789\"}",
                "{\"return\": {\"status\": \"running\"}}",
        };
        struct json_object *ret = NULL;
        struct qmp_client *c = NULL;
        int closed = 0;
        struct fake *f = fake_new(replies, sizeof(replies) / sizeof(replies[0]), &closed);

        ck_assert_int_eq(qmp_client_new(&fake_ops, f, 1000, &c), 0);
        ck_assert_int_eq(qmp_client_execute(c, "x", NULL, &ret), -EOPNOTSUPP);
        ck_assert_str_eq(qmp_client_error_message(c),
                         "x: CommandNotFound: The command x has not been found");
        ck_assert_int_eq(qmp_client_execute(c, "q", NULL, &ret), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(qmp_client_error_message(c), "q: invalid reply: "));
        ck_assert_int_eq(qmp_client_execute(c, "q", NULL, &ret), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(qmp_client_error_message(c), "data after the JSON object"));
        ck_assert_int_eq(qmp_client_execute(c, "q", NULL, &ret), -EBADMSG);
        ck_assert_int_eq(qmp_client_execute(c, "q", NULL, &ret), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(qmp_client_error_message(c), "truncated"));
        ck_assert_int_eq(qmp_client_execute(c, "q", NULL, &ret), -EBADMSG);
        ck_assert_int_eq(qmp_client_execute(c, "q", NULL, &ret), -EIO);
        ck_assert_str_eq(qmp_client_error_message(c),
                         "q: QMP fake-libvirt transport failed: Input/output error");
        qmp_client_set_max_reply(c, 32);
        ck_assert_int_eq(qmp_client_execute(c, "q", NULL, &ret), -EMSGSIZE);
        qmp_client_set_max_reply(c, QMP_DEFAULT_MAX_REPLY);
        ck_assert_ptr_null(ret);
        /* Each failure concerned one command only. */
        ck_assert_int_eq(qmp_client_execute(c, "query-status", NULL, &ret), 0);
        ck_assert_str_eq(json_object_get_string(json_object_object_get(ret, "status")), "running");
        json_object_put(ret);
        qmp_client_free(c);
        ck_assert_int_eq(closed, 1);
}
END_TEST

START_TEST(test_hmp)
{
        static const char *const replies[] = {
                "{\"return\": \"Host virtual address for 0x0 (m0) is 0x7f8e4be00000\\r\\n\", \"id\": "
                "\"libvirt-9\"}",
        };
        struct json_object *cmd;
        struct qmp_client *c = NULL;
        int closed = 0;
        struct fake *f = fake_new(replies, 1, &closed);
        char *text = NULL;

        ck_assert_int_eq(qmp_client_new(&fake_ops, f, 1000, &c), 0);
        ck_assert_int_eq(qmp_client_hmp(c, "gpa2hva 0", &text), 0);
        ck_assert_str_eq(text, "Host virtual address for 0x0 (m0) is 0x7f8e4be00000\r\n");
        free(text);
        cmd = sent(f);
        ck_assert_str_eq(json_object_get_string(json_object_object_get(cmd, "execute")),
                         "human-monitor-command");
        ck_assert_str_eq(json_object_get_string(json_object_object_get(
                                 json_object_object_get(cmd, "arguments"), "command-line")),
                         "gpa2hva 0");
        json_object_put(cmd);
        qmp_client_free(c);
}
END_TEST

START_TEST(test_invalid_ops_close_userdata)
{
        static const struct qmp_transport_ops half = {.name = "half", .close = fake_close};
        struct qmp_client *c = NULL;
        int closed = 0;

        ck_assert_int_eq(qmp_client_new(&half, fake_new(NULL, 0, &closed), 1000, &c), -EINVAL);
        ck_assert_ptr_null(c);
        /* Ownership was taken even on failure. */
        ck_assert_int_eq(closed, 1);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("qmp-command");
        TCase *tc = tcase_create("fake-transport");
        SRunner *sr;
        int failed;

        tcase_add_test(tc, test_execute);
        tcase_add_test(tc, test_errors_are_not_sticky);
        tcase_add_test(tc, test_hmp);
        tcase_add_test(tc, test_invalid_ops_close_userdata);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
