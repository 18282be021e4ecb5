/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "qmp-message.h"

#include <limits.h>

static const char *string_member(struct json_object *obj, const char *key, bool *ret_bad)
{
        struct json_object *v;

        if (!json_object_object_get_ex(obj, key, &v) || !v)
                return NULL;
        if (!json_object_is_type(v, json_type_string)) {
                *ret_bad = true;
                return NULL;
        }
        return json_object_get_string(v);
}

int qmp_message_parse(struct json_object *obj, struct qmp_message *ret, const char **reterr_problem)
{
        struct qmp_message m = {};
        struct json_object *v;
        bool bad = false;

        if (!obj || !json_object_is_type(obj, json_type_object)) {
                *reterr_problem = "message is not a JSON object";
                return -EBADMSG;
        }
        if (json_object_object_get_ex(obj, "id", &v))
                m.id = v;

        if (json_object_object_get_ex(obj, "return", &v)) {
                m.kind = QMP_MESSAGE_RETURN;
                m.value = v; /* NULL for "return": null, which is still a return */
        } else if (json_object_object_get_ex(obj, "error", &v)) {
                if (!v || !json_object_is_type(v, json_type_object)) {
                        *reterr_problem = "\"error\" member is not an object";
                        return -EBADMSG;
                }
                m.kind = QMP_MESSAGE_ERROR;
                m.error_class = string_member(v, "class", &bad);
                m.error_desc = string_member(v, "desc", &bad);
                if (bad) {
                        *reterr_problem = "error class or desc is not a string";
                        return -EBADMSG;
                }
        } else if (json_object_object_get_ex(obj, "event", &v)) {
                if (!v || !json_object_is_type(v, json_type_string)) {
                        *reterr_problem = "\"event\" member is not a string";
                        return -EBADMSG;
                }
                m.kind = QMP_MESSAGE_EVENT;
                m.event = json_object_get_string(v);
                if (json_object_object_get_ex(obj, "data", &v))
                        m.value = v;
        } else if (json_object_object_get_ex(obj, "QMP", &v)) {
                if (!v || !json_object_is_type(v, json_type_object)) {
                        *reterr_problem = "\"QMP\" greeting member is not an object";
                        return -EBADMSG;
                }
                m.kind = QMP_MESSAGE_GREETING;
                m.value = v;
        } else {
                *reterr_problem = "message has none of return, error, event or QMP";
                return -EBADMSG;
        }

        *ret = m;
        return 0;
}

static int version_part(struct json_object *qemu, const char *key)
{
        struct json_object *v;
        int64_t n;

        if (!qemu || !json_object_object_get_ex(qemu, key, &v) || !json_object_is_type(v, json_type_int))
                return 0;
        n = json_object_get_int64(v);
        return n < 0 || n > INT_MAX ? 0 : (int)n;
}

static struct json_object *object_member(struct json_object *obj, const char *key)
{
        struct json_object *v;

        if (!obj || !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_object))
                return NULL;
        return v;
}

void qmp_greeting_version(const struct qmp_message *greeting, int *ret_major, int *ret_minor, int *ret_micro)
{
        struct json_object *qemu = NULL;

        if (greeting->kind == QMP_MESSAGE_GREETING)
                qemu = object_member(object_member(greeting->value, "version"), "qemu");

        *ret_major = version_part(qemu, "major");
        *ret_minor = version_part(qemu, "minor");
        *ret_micro = version_part(qemu, "micro");
}

int qmp_error_class_to_errno(const char *klass)
{
        if (!klass)
                return -EREMOTEIO;
        if (streq(klass, "CommandNotFound"))
                return -EOPNOTSUPP;
        if (streq(klass, "DeviceNotFound") || streq(klass, "DeviceNotActive"))
                return -ENODEV;
        return -EREMOTEIO;
}
