/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The QMP client: connecting (greeting and capabilities), settings, and freeing. */
#include "vnuma/qmp/qmp.h"

#include <stdlib.h>
#include <string.h>

#include "qmp-client-internal.h"
#include "qmp-message.h"
#include "qmp-time.h"
#include "qmp-transport-unix.h"
#include "vnuma/basic/log.h"

static int client_greet(struct qmp_client *c)
{
        _cleanup_(json_object_putp) struct json_object *greeting = NULL;
        struct qmp_wait w = {.want_greeting = true};
        struct qmp_message m;
        const char *problem;
        int r;
        uint64_t deadline = client_call_deadline(c);
        char why[96];

        r = client_pump(c, &w, deadline, false);
        if (r == -ETIMEDOUT) {
                /* "no reply within N ms" -> "no QMP greeting within N ms" */
                const char *text = client_timeout_text(c, deadline, why, sizeof(why));
                return client_set_errorf(c, r, NULL, "no QMP greeting%s (is another client connected?)",
                                         startswith(text, "no reply") ? text + strlen("no reply") : text);
        }
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
        c->budget_deadline = QMP_NO_DEADLINE;
        c->budget_ms = -1;

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
        /* A UNIX connect either completes at once or waits for room in a full backlog: a live
         * QEMU accepts at once, so a short wait is enough and one stuck listener cannot hold up
         * the caller (the daemon's event loop) for a whole timeout. */
        r = qmp_unix_connect(
                path, timeout_ms < 0 ? QMP_CONNECT_TIMEOUT_MS : MIN(timeout_ms, QMP_CONNECT_TIMEOUT_MS),
                &fd);
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
        client_clear_events(c);
        free(c->events);
        free(c);
}

void qmp_client_set_timeout(struct qmp_client *c, int timeout_ms)
{
        c->timeout_ms = timeout_ms;
}

int qmp_client_get_timeout(const struct qmp_client *c)
{
        return c->timeout_ms;
}

void qmp_client_set_budget(struct qmp_client *c, int budget_ms)
{
        c->budget_ms = budget_ms;
        c->budget_deadline = qmp_deadline(budget_ms);
}

bool qmp_client_has_budget(const struct qmp_client *c)
{
        return c->budget_deadline != QMP_NO_DEADLINE;
}

uint64_t qmp_client_events_dropped(const struct qmp_client *c)
{
        return c->events_dropped;
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
