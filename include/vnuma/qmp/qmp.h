/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* QMP client on json-c.
 *
 * A client owns one connection to one QEMU. QEMU serves one QMP client per monitor at a time,
 * so either keep connections short-lived or let one owner hold it.
 *
 * Errors: every function returns -errno. After a failure, qmp_client_last_error() holds a
 * message suitable for the caller's one log line:
 *   -ETIMEDOUT      no complete reply within the timeout
 *   -ECONNRESET     peer closed (EOF), possibly mid-object
 *   -EBADMSG        garbage, a reply that is not a JSON object, or a reply without return/error
 *   -EMSGSIZE       a single reply larger than the configured maximum
 *   -EPROTO         the peer does not speak QMP (no greeting)
 *   -EOPNOTSUPP     QMP error class CommandNotFound
 *   -ENODEV         QMP error class DeviceNotFound / DeviceNotActive
 *   -EREMOTEIO      any other QMP error reply (GenericError, ...)
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vnuma/basic/macro.h"

struct json_object;
struct qmp_client;

/* Raw transport under the client. The socket transport does the framing itself; a
 * command-level transport (libvirt's virDomainQemuMonitorCommand) implements `command`
 * and leaves the byte-level hooks NULL. */
struct qmp_transport_ops {
        const char *name;
        /* Byte-level: write all, or read what is available, waiting at most timeout_ms. */
        int (*write_all)(void *userdata, const void *buf, size_t len, int timeout_ms);
        ssize_t (*read_some)(void *userdata, void *buf, size_t len, int timeout_ms);
        /* Command-level: send one command object (no "id"), return the reply text (malloc'd;
         * the client frees it). */
        int (*command)(void *userdata, const char *command_json, int timeout_ms, char **ret_reply_json);
        void (*close)(void *userdata);
};

struct qmp_error {
        char *command; /* the command that failed, or NULL for session errors */
        char *klass;   /* QMP error class, NULL if not a QMP error reply */
        char *desc;    /* human-readable problem */
};

/* Timeouts are in milliseconds; a negative timeout means no limit, as with poll(2). */
#define QMP_DEFAULT_TIMEOUT_MS 5000
/* The largest reply QEMU sends vnumad is `info mtree -f` of a big machine, well under 1 MiB; a
 * peer that sends more is cut off (-EMSGSIZE) before it costs more memory than this. */
#define QMP_DEFAULT_MAX_REPLY (4u << 20)
/* Waiting for room in a listener's full backlog: a live QEMU accepts at once. */
#define QMP_CONNECT_TIMEOUT_MS 500

/* Connect to a UNIX socket, read the greeting and negotiate capabilities. A peer that sends
 * nothing fails with -ETIMEDOUT, one that sends something other than a greeting with -EPROTO.
 * The failure's details go to the debug log (there is no client left to ask). */
int qmp_client_connect_unix(const char *path, int timeout_ms, struct qmp_client **ret);
/* Same over an already connected stream fd (takes ownership), e.g. a socketpair in tests. */
int qmp_client_connect_fd(int fd, int timeout_ms, struct qmp_client **ret);
/* Over a custom transport; takes ownership of userdata (ops->close frees it). For byte-level
 * transports the greeting and qmp_capabilities are handled here too. */
int qmp_client_new(const struct qmp_transport_ops *ops, void *userdata, int timeout_ms,
                   struct qmp_client **ret);
void qmp_client_free(struct qmp_client *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct qmp_client *, qmp_client_free);

void qmp_client_set_timeout(struct qmp_client *c, int timeout_ms);
int qmp_client_get_timeout(const struct qmp_client *c);
/* One time budget for all the calls that follow together (e.g. every round trip of one guest
 * query): no call waits past now + budget_ms, whatever its own timeout. A call that runs out
 * of budget fails with -ETIMEDOUT (and breaks a byte stream, as any timeout). Negative: none. */
void qmp_client_set_budget(struct qmp_client *c, int budget_ms);
bool qmp_client_has_budget(const struct qmp_client *c);
void qmp_client_set_max_reply(struct qmp_client *c, size_t bytes);
/* Events dropped because nobody popped them (the queue keeps the newest few). */
uint64_t qmp_client_events_dropped(const struct qmp_client *c);

/* QEMU version from the greeting (0 if unknown, e.g. command-level transports). */
void qmp_client_version(const struct qmp_client *c, int *ret_major, int *ret_minor, int *ret_micro);

/* Execute a command. args may be NULL; it is borrowed. On success *ret_return (if non-NULL)
 * holds a new reference to the "return" member. Events that arrive meanwhile are queued. */
int qmp_client_execute(struct qmp_client *c, const char *command, struct json_object *args,
                       struct json_object **ret_return);
/* human-monitor-command; *ret is the HMP output text. */
int qmp_client_hmp(struct qmp_client *c, const char *command_line, char **ret);

/* Pop the oldest queued event (new reference). Returns 1 with an event, 0 if the queue is empty. */
int qmp_client_pop_event(struct qmp_client *c, struct json_object **ret);
/* Read from the transport for up to timeout_ms and queue any events; returns the queue length.
 * Returns as soon as at least one new event was queued, and without waiting if events were
 * already queued. A connection failure is returned only once the queue is empty, so events
 * that preceded it can be popped first. Command-level transports carry no events: returns 0. */
int qmp_client_poll_events(struct qmp_client *c, int timeout_ms);

/* The error of the last failed call; never NULL (fields may be NULL). */
const struct qmp_error *qmp_client_last_error(const struct qmp_client *c);
/* "query-memdev: GenericError: ..." style, for log lines. Valid until the next call. */
const char *qmp_client_error_message(const struct qmp_client *c);
