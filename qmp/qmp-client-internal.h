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
#include "vnuma/basic/macro.h"
#include "vnuma/qmp/qmp.h"

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

/* qmp-client-stream.c: read and dispatch until the awaited message arrived (or, with
 * until_event, an event was queued) or the deadline passed. */
int client_pump(struct qmp_client *c, struct qmp_wait *w, uint64_t deadline, bool until_event);
