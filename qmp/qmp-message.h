/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Classify one QMP object received from QEMU (internal to libvnuma). Pure: no I/O. */

#include <json-c/json.h>

#include "vnuma/basic/json-util.h"
#include "vnuma/basic/macro.h"

enum qmp_message_kind {
        QMP_MESSAGE_GREETING, /* {"QMP": {"version": ..., "capabilities": [...]}} */
        QMP_MESSAGE_EVENT,    /* {"event": NAME, "data": ..., "timestamp": ...} */
        QMP_MESSAGE_RETURN,   /* {"return": VALUE, "id": ...} */
        QMP_MESSAGE_ERROR,    /* {"error": {"class": ..., "desc": ...}, "id": ...} */
};

/* Every pointer borrows from the parsed object. */
struct qmp_message {
        enum qmp_message_kind kind;
        struct json_object *id;    /* NULL if absent */
        struct json_object *value; /* return value, event data (may be NULL), or the QMP member */
        const char *event;         /* event name */
        const char *error_class;   /* error class, NULL if QEMU sent none */
        const char *error_desc;    /* error description, NULL if QEMU sent none */
};

/* Returns 0 and fills *ret, or -EBADMSG with *reterr_problem (a static string) when obj is not
 * a QMP message of a known shape. */
int qmp_message_parse(struct json_object *obj, struct qmp_message *ret, const char **reterr_problem);

/* QEMU greeting version, 0 for missing parts. */
void qmp_greeting_version(const struct qmp_message *greeting, int *ret_major, int *ret_minor,
                          int *ret_micro);

/* QMP error class -> -errno, per the table in vnuma/qmp.h. */
int qmp_error_class_to_errno(const char *klass);
