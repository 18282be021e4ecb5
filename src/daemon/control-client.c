/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One control client's buffers. Nothing here waits: a reply goes out as far as the socket takes
 * it, the rest waits in a bounded queue for the event loop to report the socket writable. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control-internal.h"
#include "vnuma/basic/event-loop.h"
#include "vnuma/basic/macro.h"

/* A queue buffer larger than this is given back once it drains. */
#define CONTROL_KEEP_ALLOC (64u << 10)

int control_client_new(struct control_server *s, int fd, struct control_client **ret)
{
        struct control_client *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        c->server = s;
        c->fd = fd;
        c->watch = -1;
        c->watching_read = true; /* as event_loop_add_io() starts it */
        *ret = c;
        return 0;
}

void control_client_free(struct control_client *c)
{
        if (!c)
                return;
        event_loop_remove_io(c->watch);
        if (c->fd >= 0)
                close(c->fd);
        control_input_done(&c->in);
        free(c->out);
        free(c);
}

void control_client_update_watch(struct control_client *c)
{
        bool read = control_client_may_read(c), write = control_client_queued(c) > 0 || c->more;

        if (read == c->watching_read && write == c->watching_write)
                return;
        event_loop_update_io(c->watch, read, write);
        c->watching_read = read;
        c->watching_write = write;
}

int control_client_flush(struct control_client *c)
{
        while (control_client_queued(c) > 0) {
                ssize_t n = send(c->fd, c->out + c->out_start, control_client_queued(c),
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        return negative_errno();
                }
                c->out_start += (size_t)n;
        }
        if (control_client_queued(c) == 0) {
                c->out_start = c->out_len = 0;
                if (c->out_alloc > CONTROL_KEEP_ALLOC) {
                        free(c->out);
                        c->out = NULL;
                        c->out_alloc = 0;
                }
        }
        control_client_update_watch(c);
        return 0;
}

static int queue(struct control_client *c, const char *buf, size_t len)
{
        if (c->out_start > 0 && c->out_len + len > c->out_alloc) {
                memmove(c->out, c->out + c->out_start, control_client_queued(c));
                c->out_len -= c->out_start;
                c->out_start = 0;
        }
        if (c->out_len + len > c->out_alloc) {
                size_t alloc = MAX(c->out_alloc * 2, MAX(c->out_len + len, (size_t)4096));
                char *n = realloc(c->out, alloc);
                if (!n)
                        return -ENOMEM;
                c->out = n;
                c->out_alloc = alloc;
        }
        memcpy(c->out + c->out_len, buf, len);
        c->out_len += len;
        return 0;
}

int control_client_send_line(struct control_client *c, const char *text, size_t len)
{
        int r;

        if (control_client_queued(c) > CONTROL_MAX_QUEUED)
                return -ENOBUFS;
        r = queue(c, text, len);
        if (r >= 0)
                r = queue(c, "\r\n", 2);
        if (r < 0)
                return r;
        return control_client_flush(c);
}
