/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Running a QMP command: built with an id over a byte stream (then waiting for its reply), or
 * handed whole to a command-level transport (libvirt); the reply turned into the call's result. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmp-client-internal.h"
#include "qmp-message.h"
#include "qmp-time.h"

static int add_string(struct json_object *obj, const char *key, const char *value)
{
        struct json_object *s;

        s = json_object_new_string(value);
        if (!s)
                return -ENOMEM;
        if (json_object_object_add(obj, key, s) < 0) {
                json_object_put(s);
                return -ENOMEM;
        }
        return 0;
}

static int build_command(const char *command, struct json_object *args, const char *id, char **ret)
{
        _cleanup_(json_object_putp) struct json_object *cmd = NULL;
        const char *text;
        char *copy;

        cmd = json_object_new_object();
        if (!cmd || add_string(cmd, "execute", command) < 0)
                return -ENOMEM;
        if (args && json_object_object_add(cmd, "arguments", json_object_get(args)) < 0) {
                json_object_put(args);
                return -ENOMEM;
        }
        if (id && add_string(cmd, "id", id) < 0)
                return -ENOMEM;
        text = json_object_to_json_string_ext(cmd, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text || asprintf(&copy, "%s\n", text) < 0)
                return -ENOMEM;
        *ret = copy;
        return 0;
}

/* Turn the reply message into the call's result. */
static int client_check_reply(struct qmp_client *c, const char *command, struct json_object *reply,
                              struct json_object **ret_return)
{
        struct qmp_message m;
        const char *problem;
        int r;

        r = qmp_message_parse(reply, &m, &problem);
        if (r < 0)
                return client_set_errorf(c, -EBADMSG, command, "invalid reply: %s", problem);
        switch (m.kind) {
        case QMP_MESSAGE_RETURN:
                if (ret_return)
                        *ret_return = json_object_get(m.value);
                return 0;
        case QMP_MESSAGE_ERROR:
                return client_set_error(c, qmp_error_class_to_errno(m.error_class), command, m.error_class,
                                        m.error_desc ?: "error reply without a description");
        default:
                return client_set_errorf(c, -EBADMSG, command, "invalid reply: a %s instead of a reply",
                                         m.kind == QMP_MESSAGE_EVENT ? "event" : "greeting");
        }
}

static int execute_stream(struct qmp_client *c, const char *command, struct json_object *args,
                          struct json_object **ret_reply)
{
        _cleanup_free_ char *id = NULL, *text = NULL;
        struct qmp_wait w = {};
        uint64_t deadline;
        char why[96];
        int r;

        if (c->broken)
                return client_fail_broken(c, command);

        if (asprintf(&id, "vnuma-%" PRIu64, ++c->next_id) < 0)
                return client_set_error(c, -ENOMEM, command, NULL, NULL);
        r = build_command(command, args, id, &text);
        if (r < 0)
                return client_set_error(c, r, command, NULL, NULL);

        deadline = client_call_deadline(c);
        r = c->ops->write_all(c->userdata, text, strlen(text), qmp_remaining_ms(deadline));
        if (r < 0) {
                /* A partial write leaves QEMU with half a command: the stream is lost. */
                client_break(c, r, "sending the command over the QMP %s transport failed: %s", c->ops->name,
                             strerror(-r));
                return client_fail_broken(c, command);
        }

        w.id = id;
        r = client_pump(c, &w, deadline, false);
        if (r == -ETIMEDOUT)
                client_break(c, r, "%s", client_timeout_text(c, deadline, why, sizeof(why)));
        if (r < 0)
                return client_fail_broken(c, command);

        *ret_reply = w.reply;
        return 0;
}

static int parse_reply_text(struct qmp_client *c, const char *command, const char *text,
                            struct json_object **ret_reply)
{
        _cleanup_(json_object_putp) struct json_object *reply = NULL;
        size_t len = strlen(text), used, rest_used;
        struct json_object *extra;
        int r;

        qmp_framer_reset(c->framer);
        r = qmp_framer_feed(c->framer, text, len, &used, &reply);
        if (r < 0)
                return client_set_errorf(c, r, command, "invalid reply: %s", qmp_framer_error(c->framer));
        if (r == 0)
                return client_set_errorf(c, -EBADMSG, command, "invalid reply: truncated JSON object");
        r = qmp_framer_feed(c->framer, text + used, len - used, &rest_used, &extra);
        if (r != 0 || qmp_framer_mid_object(c->framer)) {
                if (r > 0)
                        json_object_put(extra);
                return client_set_errorf(c, -EBADMSG, command, "invalid reply: data after the JSON object");
        }
        *ret_reply = TAKE_PTR(reply);
        return 0;
}

static int execute_command_level(struct qmp_client *c, const char *command, struct json_object *args,
                                 struct json_object **ret_reply)
{
        _cleanup_free_ char *text = NULL, *reply_text = NULL;
        uint64_t deadline = client_call_deadline(c);
        char why[96];
        int r;

        if (qmp_remaining_ms(deadline) == 0)
                return client_set_errorf(c, -ETIMEDOUT, command, "%s",
                                         client_timeout_text(c, deadline, why, sizeof(why)));
        /* libvirt adds its own id and rejects commands that carry one. */
        r = build_command(command, args, NULL, &text);
        if (r < 0)
                return client_set_error(c, r, command, NULL, NULL);
        r = c->ops->command(c->userdata, text, qmp_remaining_ms(deadline), &reply_text);
        if (r < 0)
                return client_set_errorf(c, r, command, "QMP %s transport failed: %s", c->ops->name,
                                         strerror(-r));
        if (!reply_text)
                return client_set_errorf(c, -EBADMSG, command, "QMP %s transport returned no reply",
                                         c->ops->name);
        return parse_reply_text(c, command, reply_text, ret_reply);
}

int qmp_client_execute(struct qmp_client *c, const char *command, struct json_object *args,
                       struct json_object **ret_return)
{
        _cleanup_(json_object_putp) struct json_object *reply = NULL;
        int r;

        if (!c || !command)
                return -EINVAL;
        if (args && !json_object_is_type(args, json_type_object))
                return client_set_errorf(c, -EINVAL, command, "arguments must be a JSON object");

        if (is_command_level(c))
                r = execute_command_level(c, command, args, &reply);
        else
                r = execute_stream(c, command, args, &reply);
        if (r < 0)
                return r;
        return client_check_reply(c, command, reply, ret_return);
}

int qmp_client_hmp(struct qmp_client *c, const char *command_line, char **ret)
{
        _cleanup_(json_object_putp) struct json_object *args = NULL, *reply = NULL;
        char *text;
        int r;

        if (!c || !command_line)
                return -EINVAL;
        args = json_object_new_object();
        if (!args || add_string(args, "command-line", command_line) < 0)
                return client_set_error(c, -ENOMEM, "human-monitor-command", NULL, NULL);
        r = qmp_client_execute(c, "human-monitor-command", args, &reply);
        if (r < 0)
                return r;
        if (!json_object_is_type(reply, json_type_string))
                return client_set_errorf(c, -EBADMSG, "human-monitor-command",
                                         "invalid reply: return value is not a string");
        text = strdup(json_object_get_string(reply));
        if (!text)
                return client_set_error(c, -ENOMEM, "human-monitor-command", NULL, NULL);
        *ret = text;
        return 0;
}
