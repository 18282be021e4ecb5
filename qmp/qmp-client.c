/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vnuma/qmp/qmp.h"

#include <inttypes.h>
#include <stdarg.h>

#include "qmp-framer.h"
#include "qmp-message.h"
#include "qmp-time.h"
#include "qmp-transport-unix.h"
#include "vnuma/basic/log.h"

/* One read; large replies (info mtree -f) simply take several. */
#define QMP_READ_BUFFER_SIZE (64u << 10)
/* A caller that never pops events must not make us grow without bound; the oldest go first. */
#define QMP_MAX_QUEUED_EVENTS 1024u

struct qmp_client {
        const struct qmp_transport_ops *ops;
        void *userdata;
        int timeout_ms;
        struct qmp_framer *framer;
        char *read_buffer; /* byte-level transports only */
        uint64_t next_id;
        int version_major, version_minor, version_micro;

        /* Sticky failure of a byte-level stream (framing error, timeout, EOF, I/O error): after
         * it the position in the stream is unknown and a late reply could be taken for the
         * next command's, so every later call fails with it. */
        int broken;
        char *broken_desc;
        bool broken_reported;

        struct qmp_error error;
        char *error_message;

        struct json_object **events;
        size_t events_head, n_events, events_allocated; /* queued: [events_head, n_events) */
};

/* What a read loop waits for. */
struct qmp_wait {
        const char *id;            /* id of the outstanding command, NULL if none */
        bool want_greeting;        /* the first message must be the greeting */
        struct json_object *reply; /* the awaited message, once it arrived */
        size_t events_queued;
};

static bool is_command_level(const struct qmp_client *c)
{
        return c->ops->command != NULL;
}

static void qmp_error_clear(struct qmp_error *e)
{
        free(e->command);
        free(e->klass);
        free(e->desc);
        *e = (struct qmp_error){};
}

static char *strdup_or_null(const char *s)
{
        return s ? strdup(s) : NULL;
}

/* Record the failure of the current call; returns error for `return client_set_error(...)`. */
static int client_set_error(struct qmp_client *c, int error, const char *command, const char *klass,
                            const char *desc)
{
        char *message = NULL;

        qmp_error_clear(&c->error);
        c->error.command = strdup_or_null(command);
        c->error.klass = strdup_or_null(klass);
        c->error.desc = strdup_or_null(desc ?: strerror(-error));

        if (command && klass)
                (void)!asprintf(&message, "%s: %s: %s", command, klass, strna(c->error.desc));
        else if (command)
                (void)!asprintf(&message, "%s: %s", command, strna(c->error.desc));
        free(c->error_message);
        c->error_message = message;
        return error;
}

_printf_(4, 5) static int client_set_errorf(struct qmp_client *c, int error, const char *command,
                                            const char *fmt, ...)
{
        _cleanup_free_ char *desc = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&desc, fmt, ap) < 0)
                desc = NULL;
        va_end(ap);
        return client_set_error(c, error, command, NULL, desc);
}

/* Mark the stream unusable. The first cause wins; returns the sticky error. */
_printf_(3, 4) static int client_break(struct qmp_client *c, int error, const char *fmt, ...)
{
        va_list ap;

        if (c->broken)
                return c->broken;
        c->broken = error;
        va_start(ap, fmt);
        if (vasprintf(&c->broken_desc, fmt, ap) < 0)
                c->broken_desc = NULL;
        va_end(ap);
        log_debug("QMP: connection unusable from now on: %s", strna(c->broken_desc));
        return error;
}

/* Fail the current call with the sticky failure: its own description the first time, marked
 * as old news after that. */
static int client_fail_broken(struct qmp_client *c, const char *command)
{
        if (!c->broken_reported) {
                c->broken_reported = true;
                return client_set_error(c, c->broken, command, NULL, c->broken_desc);
        }
        return client_set_errorf(c, c->broken, command, "connection unusable since an earlier failure: %s",
                                 strna(c->broken_desc));
}

static int queue_event(struct qmp_client *c, struct json_object *event)
{
        if (c->events_head > 0 && c->n_events == c->events_allocated) {
                memmove(c->events, c->events + c->events_head,
                        (c->n_events - c->events_head) * sizeof(*c->events));
                c->n_events -= c->events_head;
                c->events_head = 0;
        }
        if (c->n_events == c->events_allocated) {
                struct json_object **n;
                size_t want = MAX(c->events_allocated * 2, (size_t)16);

                if (c->events_allocated >= QMP_MAX_QUEUED_EVENTS) {
                        log_debug("QMP: event queue full, dropping the oldest event");
                        json_object_put(c->events[c->events_head++]);
                        return queue_event(c, event);
                }
                n = realloc(c->events, MIN(want, (size_t)QMP_MAX_QUEUED_EVENTS) * sizeof(*n));
                if (!n) {
                        json_object_put(event);
                        return -ENOMEM;
                }
                c->events = n;
                c->events_allocated = MIN(want, (size_t)QMP_MAX_QUEUED_EVENTS);
        }
        c->events[c->n_events++] = event;
        return 0;
}

static size_t queued_events(const struct qmp_client *c)
{
        return c->n_events - c->events_head;
}

static bool id_matches(struct json_object *obj, const char *want)
{
        struct json_object *id;

        if (!want || !json_object_object_get_ex(obj, "id", &id) ||
            !json_object_is_type(id, json_type_string))
                return false;
        return streq(json_object_get_string(id), want);
}

/* Route one received object: the awaited greeting or reply, a queued event, or dropped. */
static int client_dispatch(struct qmp_client *c, struct json_object *obj, struct qmp_wait *w)
{
        _cleanup_(json_object_putp) struct json_object *o = obj;
        struct qmp_message m;
        const char *problem = NULL;
        int r;

        r = qmp_message_parse(o, &m, &problem);

        if (w->want_greeting && !w->reply) {
                if (r < 0)
                        return client_break(c, -EPROTO, "expected a QMP greeting: %s", problem);
                if (m.kind != QMP_MESSAGE_GREETING)
                        return client_break(c, -EPROTO, "expected a QMP greeting, got a %s",
                                            m.kind == QMP_MESSAGE_EVENT ? "QMP event" : "QMP reply");
                w->reply = TAKE_PTR(o);
                return 0;
        }

        if (r >= 0 && m.kind == QMP_MESSAGE_EVENT) {
                r = queue_event(c, TAKE_PTR(o));
                if (r < 0)
                        return client_break(c, r, "cannot queue a QMP event: %s", strerror(-r));
                w->events_queued++;
                return 0;
        }

        if (w->id && !w->reply) {
                if (id_matches(o, w->id)) {
                        w->reply = TAKE_PTR(o); /* checked by the caller, malformed or not */
                        return 0;
                }
                /* QEMU answers input it cannot parse with an error that has no id. Only one
                 * command is outstanding, so the error is that command's. */
                if (r >= 0 && m.kind == QMP_MESSAGE_ERROR && !m.id) {
                        w->reply = TAKE_PTR(o);
                        return 0;
                }
        }

        log_debug("QMP: dropping unexpected message (%s): %.200s", problem ?: "no command waits for it",
                  json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        return 0;
}

static int client_consume(struct qmp_client *c, const char *buf, size_t len, struct qmp_wait *w)
{
        while (len > 0) {
                struct json_object *obj;
                size_t used;
                int r;

                r = qmp_framer_feed(c->framer, buf, len, &used, &obj);
                if (r < 0)
                        return client_break(c, r, "%s", qmp_framer_error(c->framer));
                if (r == 0)
                        break;
                buf += used;
                len -= used;
                r = client_dispatch(c, obj, w);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Read and dispatch until the awaited message arrived (or, with until_event, an event was
 * queued) or the deadline passed (-ETIMEDOUT, not sticky here). Other failures are sticky.
 * Everything in a read is dispatched, so events behind a reply are queued too; a failure
 * behind the awaited reply only breaks the stream for later calls. */
static int client_pump(struct qmp_client *c, struct qmp_wait *w, uint64_t deadline, bool until_event)
{
        for (;;) {
                ssize_t n;
                int r;

                if (w->reply || (until_event && w->events_queued > 0))
                        return 0;

                n = c->ops->read_some(c->userdata, c->read_buffer, QMP_READ_BUFFER_SIZE,
                                      qmp_remaining_ms(deadline));
                if (n == -ETIMEDOUT)
                        return -ETIMEDOUT;
                if (n < 0)
                        return client_break(c, (int)n, "reading from the QMP %s transport failed: %s",
                                            c->ops->name, strerror((int)-n));
                if (n == 0)
                        return client_break(c, -ECONNRESET, "QMP peer closed the connection%s",
                                            qmp_framer_mid_object(c->framer) ? " in the middle of a message"
                                                                             : "");
                r = client_consume(c, c->read_buffer, (size_t)n, w);
                if (r < 0 && !w->reply)
                        return r;
        }
}

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
        int r;

        if (c->broken)
                return client_fail_broken(c, command);

        if (asprintf(&id, "vnuma-%" PRIu64, ++c->next_id) < 0)
                return client_set_error(c, -ENOMEM, command, NULL, NULL);
        r = build_command(command, args, id, &text);
        if (r < 0)
                return client_set_error(c, r, command, NULL, NULL);

        deadline = qmp_deadline(c->timeout_ms);
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
                client_break(c, r, "no reply within %d ms", c->timeout_ms);
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
        int r;

        /* libvirt adds its own id and rejects commands that carry one. */
        r = build_command(command, args, NULL, &text);
        if (r < 0)
                return client_set_error(c, r, command, NULL, NULL);
        r = c->ops->command(c->userdata, text, c->timeout_ms, &reply_text);
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

int qmp_client_pop_event(struct qmp_client *c, struct json_object **ret)
{
        if (queued_events(c) == 0)
                return 0;
        *ret = c->events[c->events_head++];
        if (c->events_head == c->n_events)
                c->events_head = c->n_events = 0;
        return 1;
}

int qmp_client_poll_events(struct qmp_client *c, int timeout_ms)
{
        struct qmp_wait w = {};
        int r;

        if (is_command_level(c))
                return (int)MIN(queued_events(c), (size_t)INT_MAX);

        /* With events waiting, only take what is already there. A failure is reported once the
         * queue is empty, so events that came before it (SHUTDOWN before EOF) are not lost. */
        if (!c->broken) {
                r = client_pump(c, &w, queued_events(c) > 0 ? qmp_deadline(0) : qmp_deadline(timeout_ms),
                                true);
                if (r < 0 && r != -ETIMEDOUT && !c->broken)
                        return client_set_error(c, r, NULL, NULL, NULL);
        }
        if (queued_events(c) > 0)
                return (int)MIN(queued_events(c), (size_t)INT_MAX);
        if (c->broken)
                return client_fail_broken(c, NULL);
        return 0;
}

static int client_greet(struct qmp_client *c)
{
        _cleanup_(json_object_putp) struct json_object *greeting = NULL;
        struct qmp_wait w = {.want_greeting = true};
        struct qmp_message m;
        const char *problem;
        int r;

        r = client_pump(c, &w, qmp_deadline(c->timeout_ms), false);
        if (r == -ETIMEDOUT)
                return client_set_errorf(c, r, NULL,
                                         "no QMP greeting within %d ms (is another client connected?)",
                                         c->timeout_ms);
        if (r == -EBADMSG || r == -EMSGSIZE)
                return client_set_errorf(c, -EPROTO, NULL, "no QMP greeting: %s", strna(c->broken_desc));
        if (r < 0)
                return client_set_error(c, r, NULL, NULL, c->broken_desc);

        greeting = TAKE_PTR(w.reply);
        r = qmp_message_parse(greeting, &m, &problem);
        if (r < 0)
                return client_set_errorf(c, -EPROTO, NULL, "no QMP greeting: %s", problem);
        qmp_greeting_version(&m, &c->version_major, &c->version_minor, &c->version_micro);
        return qmp_client_execute(c, "qmp_capabilities", NULL, NULL);
}

int qmp_client_new(const struct qmp_transport_ops *ops, void *userdata, int timeout_ms,
                   struct qmp_client **ret)
{
        _cleanup_(qmp_client_freep) struct qmp_client *c = NULL;
        int r;

        if (!ops || !ret || (!ops->command && (!ops->write_all || !ops->read_some))) {
                if (ops && ops->close)
                        ops->close(userdata);
                return -EINVAL;
        }

        c = calloc(1, sizeof(*c));
        if (!c) {
                if (ops->close)
                        ops->close(userdata);
                return -ENOMEM;
        }
        c->ops = ops;
        c->userdata = userdata;
        c->timeout_ms = timeout_ms;

        r = qmp_framer_new(QMP_DEFAULT_MAX_REPLY, &c->framer);
        if (r < 0)
                return r;
        if (is_command_level(c)) {
                *ret = TAKE_PTR(c);
                return 0;
        }

        c->read_buffer = malloc(QMP_READ_BUFFER_SIZE);
        if (!c->read_buffer)
                return -ENOMEM;
        r = client_greet(c);
        if (r < 0) {
                /* No client survives to ask, so leave the details in the debug log. */
                log_debug("QMP: connecting over the %s transport failed: %s", strna(ops->name),
                          qmp_client_error_message(c));
                return r;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

int qmp_client_connect_fd(int fd, int timeout_ms, struct qmp_client **ret)
{
        void *userdata;
        int r;

        r = qmp_transport_fd_new(fd, &userdata);
        if (r < 0)
                return r;
        return qmp_client_new(&qmp_transport_fd_ops, userdata, timeout_ms, ret);
}

int qmp_client_connect_unix(const char *path, int timeout_ms, struct qmp_client **ret)
{
        int fd, r;

        if (!path)
                return -EINVAL;
        r = qmp_unix_connect(path, timeout_ms, &fd);
        if (r < 0) {
                log_debug("QMP: connecting to %s failed: %s", path, strerror(-r));
                return r;
        }
        return qmp_client_connect_fd(fd, timeout_ms, ret);
}

void qmp_client_free(struct qmp_client *c)
{
        if (!c)
                return;
        if (c->ops->close)
                c->ops->close(c->userdata);
        qmp_framer_free(c->framer);
        free(c->read_buffer);
        free(c->broken_desc);
        qmp_error_clear(&c->error);
        free(c->error_message);
        for (size_t i = c->events_head; i < c->n_events; i++)
                json_object_put(c->events[i]);
        free(c->events);
        free(c);
}

void qmp_client_set_timeout(struct qmp_client *c, int timeout_ms)
{
        c->timeout_ms = timeout_ms;
}

void qmp_client_set_max_reply(struct qmp_client *c, size_t bytes)
{
        qmp_framer_set_max_object(c->framer, bytes);
}

void qmp_client_version(const struct qmp_client *c, int *ret_major, int *ret_minor, int *ret_micro)
{
        if (ret_major)
                *ret_major = c->version_major;
        if (ret_minor)
                *ret_minor = c->version_minor;
        if (ret_micro)
                *ret_micro = c->version_micro;
}

const struct qmp_error *qmp_client_last_error(const struct qmp_client *c)
{
        return &c->error;
}

const char *qmp_client_error_message(const struct qmp_client *c)
{
        if (c->error_message)
                return c->error_message;
        return c->error.desc ?: "no error";
}
