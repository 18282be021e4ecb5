/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Typed member access on json-c objects: -ENOENT when missing, -EBADMSG on the wrong type. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "vnuma/basic/macro.h"

int json_member_int64(struct json_object *o, const char *key, int64_t *ret);
int json_member_uint64(struct json_object *o, const char *key, uint64_t *ret);
int json_member_bool(struct json_object *o, const char *key, bool *ret);
/* Borrowed string, valid while o lives. */
int json_member_string(struct json_object *o, const char *key, const char **ret);
int json_member_array(struct json_object *o, const char *key, struct json_object **ret);
int json_member_object(struct json_object *o, const char *key, struct json_object **ret);

/* The member, or dflt when it is missing or of another type (for rendering, not for parsing). */
const char *json_string_or(struct json_object *o, const char *key, const char *dflt);
int64_t json_int64_or(struct json_object *o, const char *key, int64_t dflt);
uint64_t json_uint64_or(struct json_object *o, const char *key, uint64_t dflt);

static inline void json_object_putp(struct json_object **o)
{
        if (*o)
                json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_object_putp)
