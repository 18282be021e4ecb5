/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The QMP client's failures: the last call's error (command, class, description, message) and
 * the sticky failure of a byte stream that can no longer be trusted. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmp-client-internal.h"
#include "vnuma/basic/log.h"

void qmp_error_clear(struct qmp_error *e)
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

int client_set_error(struct qmp_client *c, int error, const char *command, const char *klass,
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

_printf_(4, 5) int client_set_errorf(struct qmp_client *c, int error, const char *command, const char *fmt,
                                     ...)
{
        _cleanup_free_ char *desc = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&desc, fmt, ap) < 0)
                desc = NULL;
        va_end(ap);
        return client_set_error(c, error, command, NULL, desc);
}

_printf_(3, 4) int client_break(struct qmp_client *c, int error, const char *fmt, ...)
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

int client_fail_broken(struct qmp_client *c, const char *command)
{
        if (!c->broken_reported) {
                c->broken_reported = true;
                return client_set_error(c, c->broken, command, NULL, c->broken_desc);
        }
        return client_set_errorf(c, c->broken, command, "connection unusable since an earlier failure: %s",
                                 strna(c->broken_desc));
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

const char *client_timeout_text(const struct qmp_client *c, uint64_t deadline, char *buf, size_t size)
{
        if (deadline == c->budget_deadline && c->budget_deadline != QMP_NO_DEADLINE)
                snprintf(buf, size, "no reply before the query's time budget of %d ms ran out",
                         c->budget_ms);
        else
                snprintf(buf, size, "no reply within %d ms", c->timeout_ms);
        return buf;
}
