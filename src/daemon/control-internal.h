/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the files of the control socket share (control-server.c accepts and dispatches,
 * control-client.c holds one client's buffers, control-socket.c creates the socket). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "control-request.h"
#include "vnuma/basic/macro.h"

/* Reply bytes a client may leave unread before it is dropped. One reply is always queued whole,
 * so a client holds at most this plus one reply. */
#define CONTROL_MAX_QUEUED (1u << 20)

enum control_access { CONTROL_ACCESS_NONE, CONTROL_ACCESS_READ, CONTROL_ACCESS_WRITE };

struct control_server;

struct control_client {
        struct control_server *server;
        int fd;
        int watch;
        pid_t pid;
        uid_t uid;
        enum control_access access;
        bool negotiated;
        bool closing;       /* send what is queued, read nothing more, then close */
        bool eof;           /* the peer will send nothing more: answer what it sent, then close */
        bool more;          /* complete requests wait in the input for the next wakeup */
        bool watching_read; /* the watch's current state */
        bool watching_write;
        uint64_t last_request; /* monotonic ns of the last complete request (or of the connect) */
        struct control_input in;
        char *out; /* queued reply bytes: out[out_start..out_len) */
        size_t out_start;
        size_t out_len;
        size_t out_alloc;
};

int control_client_new(struct control_server *s, int fd, struct control_client **ret);
/* Closes the socket and removes the watch. */
void control_client_free(struct control_client *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct control_client *, control_client_free);

static inline size_t control_client_queued(const struct control_client *c)
{
        return c->out_len - c->out_start;
}

/* Sends text plus "\r\n" without waiting: what the socket does not take now is queued and sent
 * when it becomes writable. -ENOBUFS when more than CONTROL_MAX_QUEUED bytes are still unread
 * (the client must be dropped), -EPIPE and the like when the peer is gone. */
int control_client_send_line(struct control_client *c, const char *text, size_t len);
/* Sends what the socket takes of the queue. < 0 when the peer is gone. */
int control_client_flush(struct control_client *c);
/* Whether to receive more: only once every reply was taken and every request received was run,
 * so a client that does not read its replies stops being served, and holds no more than one
 * request line and one reply. */
static inline bool control_client_may_read(const struct control_client *c)
{
        return !c->closing && !c->eof && !c->more && control_client_queued(c) == 0;
}

/* The watch: readable when control_client_may_read(), writable while anything is queued or
 * requests wait (the socket is writable at once: the next loop iteration serves them). */
void control_client_update_watch(struct control_client *c);

/* control-socket.c: the listening socket at path, mode 0660 and group gid from the moment it
 * exists, in a directory that only root (or the daemon's own user) may write, under an flock
 * on "PATH.lock" (kept in *ret_lock_fd) so that a second daemon refuses to start instead of
 * taking the socket. -EADDRINUSE when another daemon holds the lock or serves the socket. */
int control_socket_open(const char *path, gid_t gid, int *ret_fd, int *ret_lock_fd, char **ret_error);
/* Gives the socket file to group gid (a reload changed the read group). */
int control_socket_set_group(const char *path, gid_t gid);
