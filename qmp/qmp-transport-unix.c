/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "qmp-transport-unix.h"

#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "qmp-time.h"
#include "vnuma/basic/error-message.h"
#include "vnuma/basic/log.h"
#include "vnuma/qmp/qmp-unix.h"

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

int qmp_unix_check_path(const char *path, char **ret_error)
{
        _cleanup_free_ char *copy = NULL;
        struct stat st, dir;
        const char *dirpath;

        if (ret_error)
                *ret_error = NULL;
        if (!path || !*path)
                return -EINVAL;
        if (lstat(path, &st) < 0)
                return error_message(ret_error, negative_errno(), "%s", strerror(errno));
        if (S_ISLNK(st.st_mode))
                return error_message(ret_error, -ELOOP, "a symbolic link, not a socket");
        if (!S_ISSOCK(st.st_mode))
                return error_message(ret_error, -ENOTSOCK, "not a socket");
        copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        dirpath = dirname(copy);
        if (stat(dirpath, &dir) < 0)
                return error_message(ret_error, negative_errno(), "%s: %s", dirpath, strerror(errno));
        if (st.st_uid != 0 && st.st_uid != dir.st_uid)
                return error_message(ret_error, -EPERM,
                                     "owned by uid %u, neither root nor the owner of %s (uid %u)",
                                     (unsigned)st.st_uid, dirpath, (unsigned)dir.st_uid);
        /* Others who may write the directory could swap the socket for another one. */
        if ((dir.st_mode & (S_IWGRP | S_IWOTH)) && !(dir.st_mode & S_ISVTX))
                return error_message(ret_error, -EPERM,
                                     "its directory %s is writable by group or others and not sticky",
                                     dirpath);
        return 0;
}

int qmp_unix_peer_pid(int fd, pid_t *ret_pid)
{
        struct ucred cred = {};
        socklen_t len = sizeof(cred);

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return negative_errno();
        if (len != sizeof(cred) || cred.pid <= 0)
                return -ESRCH;
        *ret_pid = cred.pid;
        return 0;
}

int qmp_client_connect_unix_peer(const char *path, int timeout_ms, struct qmp_client **ret,
                                 pid_t *ret_peer_pid, char **ret_error)
{
        struct qmp_client *c = NULL;
        pid_t pid;
        int fd, r;

        if (ret_error)
                *ret_error = NULL;
        r = qmp_unix_check_path(path, ret_error);
        if (r < 0)
                return r;
        r = qmp_unix_connect(path, timeout_ms, &fd);
        if (r < 0) {
                log_debug("QMP: connecting to %s failed: %s", path, strerror(-r));
                return r;
        }
        r = qmp_unix_peer_pid(fd, &pid);
        if (r < 0) {
                closep(&fd);
                return error_message(ret_error, r,
                                     "cannot tell which process serves the socket (SO_PEERCRED): %s",
                                     r == -ESRCH ? "it is in another PID namespace" : strerror(-r));
        }
        r = qmp_client_connect_fd(fd, timeout_ms, &c);
        if (r < 0)
                return r;
        *ret = c;
        *ret_peer_pid = pid;
        return 0;
}
