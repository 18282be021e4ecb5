/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The QMP client's object and what its files share. qmp-client.c connects (greeting,
 * capabilities) and frees; qmp-client-command.c runs a command; qmp-client-stream.c reads a
 * byte stream and queues its events; qmp-client-error.c records failures. Calls go one way,
 * in that order. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qmp-framer.h"
#include "qmp-time.h"
#include "vnuma/basic/macro.h"
#include "vnuma/qmp/qmp.h"

/* One read; large replies (info mtree -f) simply take several. */
#define QMP_READ_BUFFER_SIZE (64u << 10)
/* Events nobody pops must not make us grow: a small ring, bounded in count and in bytes (as
 * framed), the oldest dropped first and counted. QEMU sends a handful per state change. */
#define QMP_MAX_QUEUED_EVENTS      64u
#define QMP_MAX_QUEUED_EVENT_BYTES (256u << 10)

struct queued_event {
        struct json_object *event;
        size_t bytes;
};

struct qmp_client {
        const struct qmp_transport_ops *ops;
        void *userdata;
        int timeout_ms;
        /* One deadline over several calls (qmp_client_set_budget), QMP_NO_DEADLINE if none. */
        uint64_t budget_deadline;
        int budget_ms;
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

        struct queued_event *events; /* ring of QMP_MAX_QUEUED_EVENTS, allocated on first use */
        size_t events_head, n_events, events_bytes;
        uint64_t events_dropped;
};

/* What a read loop waits for. */
struct qmp_wait {
        const char *id;            /* id of the outstanding command, NULL if none */
        bool want_greeting;        /* the first message must be the greeting */
        struct json_object *reply; /* the awaited message, once it arrived */
        size_t events_queued;
};

/* The deadline of a call starting now: its own timeout, cut short by the budget. */
static inline uint64_t client_call_deadline(const struct qmp_client *c)
{
        return MIN(qmp_deadline(c->timeout_ms), c->budget_deadline);
}

static inline bool is_command_level(const struct qmp_client *c)
{
        return c->ops->command != NULL;
}

/* qmp-client-error.c: the failure of the current call, and the sticky failure of the stream. */
void qmp_error_clear(struct qmp_error *e);
/* Record the failure of the current call; returns error for `return client_set_error(...)`. */
int client_set_error(struct qmp_client *c, int error, const char *command, const char *klass,
                     const char *desc);
_printf_(4, 5) int client_set_errorf(struct qmp_client *c, int error, const char *command, const char *fmt,
                                     ...);
/* Mark the stream unusable. The first cause wins; returns the sticky error. */
_printf_(3, 4) int client_break(struct qmp_client *c, int error, const char *fmt, ...);
/* Fail the current call with the sticky failure: its own description the first time, marked
 * as old news after that. */
int client_fail_broken(struct qmp_client *c, const char *command);

/* "no reply within 5000 ms" or "the query's time budget of 10000 ms ran out", for a call that
 * timed out at deadline. */
const char *client_timeout_text(const struct qmp_client *c, uint64_t deadline, char *buf, size_t size);

/* qmp-client-stream.c: read and dispatch until the awaited message arrived (or, with
 * until_event, an event was queued) or the deadline passed. */
int client_pump(struct qmp_client *c, struct qmp_wait *w, uint64_t deadline, bool until_event);
/* Drop every queued event (freeing the client). */
void client_clear_events(struct qmp_client *c);
