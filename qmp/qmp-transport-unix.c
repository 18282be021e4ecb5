/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "qmp-transport-unix.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "qmp-time.h"

struct fd_transport {
        int fd;
};

/* Wait until fd is ready for events or the deadline passes; EINTR-safe. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
        for (;;) {
                struct pollfd pfd = {.fd = fd, .events = events};
                int n;

                n = poll(&pfd, 1, qmp_remaining_ms(deadline));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        return -ETIMEDOUT;
                if (pfd.revents & POLLNVAL)
                        return -EBADF;
                /* POLLHUP/POLLERR: let the next recv/send report what happened. */
                return 0;
        }
}

static int fd_write_all(void *userdata, const void *buf, size_t len, int timeout_ms)
{
        struct fd_transport *t = userdata;
        uint64_t deadline = qmp_deadline(timeout_ms);
        const char *p = buf;

        while (len > 0) {
                ssize_t n;
                int r;

                n = send(t->fd, p, len, MSG_NOSIGNAL);
                if (n >= 0) {
                        p += n;
                        len -= (size_t)n;
                        continue;
                }
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN && errno != EWOULDBLOCK)
                        return negative_errno();
                r = wait_fd(t->fd, POLLOUT, deadline);
                if (r < 0)
                        return r;
        }
        return 0;
}

static ssize_t fd_read_some(void *userdata, void *buf, size_t len, int timeout_ms)
{
        struct fd_transport *t = userdata;
        uint64_t deadline = qmp_deadline(timeout_ms);

        for (;;) {
                ssize_t n;
                int r;

                n = recv(t->fd, buf, len, 0);
                if (n >= 0)
                        return n;
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN && errno != EWOULDBLOCK)
                        return negative_errno();
                r = wait_fd(t->fd, POLLIN, deadline);
                if (r < 0)
                        return r;
        }
}

static void fd_close(void *userdata)
{
        struct fd_transport *t = userdata;

        if (!t)
                return;
        closep(&t->fd);
        free(t);
}

const struct qmp_transport_ops qmp_transport_fd_ops = {
        .name = "unix",
        .write_all = fd_write_all,
        .read_some = fd_read_some,
        .close = fd_close,
};

int qmp_transport_fd_new(int fd, void **ret_userdata)
{
        _cleanup_close_ int owned = fd;
        struct fd_transport *t;
        int flags;

        if (fd < 0)
                return -EBADF;
        flags = fcntl(fd, F_GETFL);
        if (flags < 0)
                return negative_errno();
        if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return negative_errno();

        t = malloc(sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->fd = TAKE_FD(owned);
        *ret_userdata = t;
        return 0;
}

int qmp_unix_connect(const char *path, int timeout_ms, int *ret_fd)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        uint64_t deadline = qmp_deadline(timeout_ms);
        _cleanup_close_ int fd = -1;
        size_t len;

        len = strlen(path);
        if (len == 0)
                return -EINVAL;
        if (len >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, len);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();

        /* A non-blocking AF_UNIX connect completes at once or fails with EAGAIN when the
         * listener's backlog is full; there is no EINPROGRESS to poll for, so retry briefly. */
        for (;;) {
                int left;

                if (connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) == 0)
                        break;
                if (errno == EINTR)
                        continue;
                if (errno == EISCONN) /* an interrupted attempt went through after all */
                        break;
                if (errno != EAGAIN)
                        return negative_errno();
                left = qmp_remaining_ms(deadline);
                if (left == 0)
                        return -ETIMEDOUT;
                poll(NULL, 0, left < 0 || left > 10 ? 10 : left);
        }

        *ret_fd = TAKE_FD(fd);
        return 0;
}
