/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading a byte-level QMP stream: framing what arrives, routing the awaited greeting or reply
 * to the waiting call, and queueing events (bounded) for the caller to pop. */
#include <stdlib.h>
#include <string.h>

#include "qmp-client-internal.h"
#include "qmp-message.h"
#include "qmp-time.h"
#include "vnuma/basic/log.h"

static size_t queued_events(const struct qmp_client *c)
{
        return c->n_events;
}

static void drop_oldest_event(struct qmp_client *c)
{
        struct queued_event *e = &c->events[c->events_head];

        json_object_put(e->event);
        c->events_bytes -= e->bytes;
        *e = (struct queued_event){};
        c->events_head = (c->events_head + 1) % QMP_MAX_QUEUED_EVENTS;
        c->n_events--;
}

static void count_dropped(struct qmp_client *c)
{
        /* Said once per connection: a flood would otherwise flood the log too. */
        if (c->events_dropped++ == 0)
                log_debug("QMP: events arrive faster than they are read; dropping the oldest (at most "
                          "%u events, %u bytes kept)",
                          QMP_MAX_QUEUED_EVENTS, QMP_MAX_QUEUED_EVENT_BYTES);
}

/* Queue an event of `bytes` framed bytes (takes the reference). */
static int queue_event(struct qmp_client *c, struct json_object *event, size_t bytes)
{
        if (bytes > QMP_MAX_QUEUED_EVENT_BYTES) {
                json_object_put(event);
                count_dropped(c);
                return 0;
        }
        if (!c->events) {
                c->events = calloc(QMP_MAX_QUEUED_EVENTS, sizeof(*c->events));
                if (!c->events) {
                        json_object_put(event);
                        return -ENOMEM;
                }
        }
        while (c->n_events > 0 && (c->n_events == QMP_MAX_QUEUED_EVENTS ||
                                   c->events_bytes + bytes > QMP_MAX_QUEUED_EVENT_BYTES)) {
                drop_oldest_event(c);
                count_dropped(c);
        }
        c->events[(c->events_head + c->n_events) % QMP_MAX_QUEUED_EVENTS] =
                (struct queued_event){.event = event, .bytes = bytes};
        c->n_events++;
        c->events_bytes += bytes;
        return 0;
}

void client_clear_events(struct qmp_client *c)
{
        while (c->n_events > 0)
                drop_oldest_event(c);
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
static int client_dispatch(struct qmp_client *c, struct json_object *obj, size_t bytes, struct qmp_wait *w)
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
                r = queue_event(c, TAKE_PTR(o), bytes);
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
                r = client_dispatch(c, obj, qmp_framer_last_size(c->framer), w);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Read and dispatch until the awaited message arrived (or, with until_event, an event was
 * queued) or the deadline passed (-ETIMEDOUT, not sticky here). Other failures are sticky.
 * Everything in a read is dispatched, so events behind a reply are queued too; a failure
 * behind the awaited reply only breaks the stream for later calls. */
int client_pump(struct qmp_client *c, struct qmp_wait *w, uint64_t deadline, bool until_event)
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

int qmp_client_pop_event(struct qmp_client *c, struct json_object **ret)
{
        if (queued_events(c) == 0)
                return 0;
        *ret = json_object_get(c->events[c->events_head].event);
        drop_oldest_event(c);
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
