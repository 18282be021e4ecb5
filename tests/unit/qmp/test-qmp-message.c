/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <check.h>
#include <errno.h>

#include "qmp-message.h"

static struct json_object *parse(const char *s)
{
        struct json_object *o = json_tokener_parse(s);

        ck_assert_msg(o != NULL, "fixture is not JSON: %s", s);
        return o;
}

START_TEST(test_kinds)
{
        _cleanup_(json_object_putp) struct json_object *ret = NULL, *err = NULL, *ev = NULL, *greet = NULL,
                                                       *null_ret = NULL;
        struct qmp_message m;
        const char *problem = NULL;
        int major, minor, micro;

        ret = parse("{\"return\": {\"a\": 1}, \"id\": \"vnuma-7\"}");
        ck_assert_int_eq(qmp_message_parse(ret, &m, &problem), 0);
        ck_assert_int_eq(m.kind, QMP_MESSAGE_RETURN);
        ck_assert_str_eq(json_object_get_string(m.id), "vnuma-7");
        ck_assert_int_eq(json_object_get_int(json_object_object_get(m.value, "a")), 1);

        null_ret = parse("{\"return\": null}");
        ck_assert_int_eq(qmp_message_parse(null_ret, &m, &problem), 0);
        ck_assert_int_eq(m.kind, QMP_MESSAGE_RETURN);
        ck_assert_ptr_null(m.value);
        ck_assert_ptr_null(m.id);

        err = parse("{\"error\": {\"class\": \"DeviceNotFound\", \"desc\": \"Device 'x' not found\"}}");
        ck_assert_int_eq(qmp_message_parse(err, &m, &problem), 0);
        ck_assert_int_eq(m.kind, QMP_MESSAGE_ERROR);
        ck_assert_str_eq(m.error_class, "DeviceNotFound");
        ck_assert_str_eq(m.error_desc, "Device 'x' not found");
        ck_assert_ptr_null(m.id);

        ev = parse("{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"STOP\"}");
        ck_assert_int_eq(qmp_message_parse(ev, &m, &problem), 0);
        ck_assert_int_eq(m.kind, QMP_MESSAGE_EVENT);
        ck_assert_str_eq(m.event, "STOP");
        ck_assert_ptr_null(m.value);

        greet = parse("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 1, \"minor\": 2, \"major\": 8}, "
                      "\"package\": \"\"}, \"capabilities\": [\"oob\"]}}");
        ck_assert_int_eq(qmp_message_parse(greet, &m, &problem), 0);
        ck_assert_int_eq(m.kind, QMP_MESSAGE_GREETING);
        qmp_greeting_version(&m, &major, &minor, &micro);
        ck_assert_int_eq(major, 8);
        ck_assert_int_eq(minor, 2);
        ck_assert_int_eq(micro, 1);
        ck_assert_ptr_null(problem);
}
END_TEST

START_TEST(test_greeting_without_version)
{
        _cleanup_(json_object_putp) struct json_object *g = NULL;
        struct qmp_message m;
        const char *problem;
        int major = -1, minor = -1, micro = -1;

        g = parse("{\"QMP\": {\"version\": {\"qemu\": {\"major\": \"7\", \"minor\": -2}}, \"capabilities\": "
                  "[]}}");
        ck_assert_int_eq(qmp_message_parse(g, &m, &problem), 0);
        qmp_greeting_version(&m, &major, &minor, &micro);
        ck_assert_int_eq(major, 0);
        ck_assert_int_eq(minor, 0);
        ck_assert_int_eq(micro, 0);
}
END_TEST

START_TEST(test_invalid_shapes)
{
        static const char *const bad[] = {
                "{}",
                "{\"id\": \"vnuma-1\"}",
                "{\"error\": \"boom\"}",
                "{\"error\": {\"class\": 5, \"desc\": \"x\"}}",
                "{\"error\": {\"class\": \"GenericError\", \"desc\": [\"x\"]}}",
                "{\"event\": 42}",
                "{\"QMP\": []}",
                "[1]",
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                _cleanup_(json_object_putp) struct json_object *o = parse(bad[i]);
                struct qmp_message m = {.kind = QMP_MESSAGE_GREETING};
                const char *problem = NULL;

                ck_assert_msg(qmp_message_parse(o, &m, &problem) == -EBADMSG, "accepted %s", bad[i]);
                ck_assert_ptr_nonnull(problem);
                ck_assert_int_eq(m.kind, QMP_MESSAGE_GREETING); /* untouched */
        }
}
END_TEST

START_TEST(test_error_class_errno)
{
        ck_assert_int_eq(qmp_error_class_to_errno("GenericError"), -EREMOTEIO);
        ck_assert_int_eq(qmp_error_class_to_errno("CommandNotFound"), -EOPNOTSUPP);
        ck_assert_int_eq(qmp_error_class_to_errno("DeviceNotFound"), -ENODEV);
        ck_assert_int_eq(qmp_error_class_to_errno("DeviceNotActive"), -ENODEV);
        ck_assert_int_eq(qmp_error_class_to_errno("KVMMissingCap"), -EREMOTEIO);
        ck_assert_int_eq(qmp_error_class_to_errno(NULL), -EREMOTEIO);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("qmp-message");
        TCase *tc = tcase_create("core");
        SRunner *sr;
        int failed;

        tcase_add_test(tc, test_kinds);
        tcase_add_test(tc, test_greeting_without_version);
        tcase_add_test(tc, test_invalid_shapes);
        tcase_add_test(tc, test_error_class_errno);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
