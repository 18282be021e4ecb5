/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vnuma/basic/json-util.h"

#include <errno.h>

static int member(struct json_object *o, const char *key, enum json_type type, struct json_object **ret)
{
        struct json_object *v;

        if (!o || !json_object_is_type(o, json_type_object))
                return -EBADMSG;
        if (!json_object_object_get_ex(o, key, &v) || !v)
                return -ENOENT;
        if (!json_object_is_type(v, type))
                return -EBADMSG;
        *ret = v;
        return 0;
}

int json_member_int64(struct json_object *o, const char *key, int64_t *ret)
{
        struct json_object *v;
        int r = member(o, key, json_type_int, &v);

        if (r < 0)
                return r;
        *ret = json_object_get_int64(v);
        return 0;
}

int json_member_uint64(struct json_object *o, const char *key, uint64_t *ret)
{
        struct json_object *v;
        int r = member(o, key, json_type_int, &v);

        if (r < 0)
                return r;
        /* json-c keeps large positive values as uint64; a negative int64 is out of range here. */
        if (json_object_get_int64(v) < 0 && json_object_get_uint64(v) <= INT64_MAX)
                return -EBADMSG;
        *ret = json_object_get_uint64(v);
        return 0;
}

int json_member_bool(struct json_object *o, const char *key, bool *ret)
{
        struct json_object *v;
        int r = member(o, key, json_type_boolean, &v);

        if (r < 0)
                return r;
        *ret = json_object_get_boolean(v);
        return 0;
}

int json_member_string(struct json_object *o, const char *key, const char **ret)
{
        struct json_object *v;
        int r = member(o, key, json_type_string, &v);

        if (r < 0)
                return r;
        *ret = json_object_get_string(v);
        return 0;
}

int json_member_array(struct json_object *o, const char *key, struct json_object **ret)
{
        return member(o, key, json_type_array, ret);
}

int json_member_object(struct json_object *o, const char *key, struct json_object **ret)
{
        return member(o, key, json_type_object, ret);
}

const char *json_string_or(struct json_object *o, const char *key, const char *dflt)
{
        const char *v;
        return json_member_string(o, key, &v) == 0 ? v : dflt;
}

int64_t json_int64_or(struct json_object *o, const char *key, int64_t dflt)
{
        int64_t v;
        return json_member_int64(o, key, &v) == 0 ? v : dflt;
}

uint64_t json_uint64_or(struct json_object *o, const char *key, uint64_t dflt)
{
        uint64_t v;
        return json_member_uint64(o, key, &v) == 0 ? v : dflt;
}
