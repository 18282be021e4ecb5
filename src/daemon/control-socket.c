/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The control socket file: who may reach it is decided by its mode and group before anyone can
 * connect, so it is never world-accessible, not even between bind() and chmod(). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control-internal.h"
#include "vnuma/basic/error-message.h"
#include "vnuma/basic/macro.h"

#define CONTROL_BACKLOG 64

/* The socket's directory: created if missing; it must be a directory that nobody but root (or
 * the user vnumad runs as) can write, or anyone could swap the socket under root's clients. */
static int check_directory(const char *path, char **ret_error)
{
        _cleanup_free_ char *dir = strdup(path);
        char *slash;
        struct stat st;

        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (!slash)
                return error_message(ret_error, -EINVAL, "%s: the control socket needs an absolute path",
                                     path);
        if (slash == dir)
                slash[1] = '\0';
        else
                *slash = '\0';
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return error_message(ret_error, negative_errno(), "Cannot create the directory %s: %m", dir);
        if (stat(dir, &st) < 0)
                return error_message(ret_error, negative_errno(), "Cannot stat the directory %s: %m", dir);
        if (!S_ISDIR(st.st_mode))
                return error_message(ret_error, -ENOTDIR, "%s is not a directory", dir);
        if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & (S_IWGRP | S_IWOTH)))
                return error_message(
                        ret_error, -EPERM,
                        "Refusing the control socket directory %s (owner uid %u, mode %04o): it "
                        "must be owned by root and not writable by group or others",
                        dir, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
        return 0;
}

static int take_lock(const char *path, int *ret_fd, char **ret_error)
{
        _cleanup_free_ char *lock = NULL;
        int fd;

        if (asprintf(&lock, "%s.lock", path) < 0)
                return -ENOMEM;
        /* Never unlinked: removing a held lock file lets two daemons lock two different files. */
        fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0)
                return error_message(ret_error, negative_errno(), "Cannot open the lock file %s: %m", lock);
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                int r = negative_errno();
                close(fd);
                if (r == -EWOULDBLOCK)
                        return error_message(ret_error, -EADDRINUSE,
                                             "Another vnumad holds %s; it owns the control socket %s", lock,
                                             path);
                return error_message(ret_error, r, "Cannot lock %s: %m", lock);
        }
        *ret_fd = fd;
        return 0;
}

/* A file left at path: a stale socket of a crashed vnumad is removed; anything else, or a
 * socket that something still serves, is not ours to take. */
static int clear_path(const char *path, const struct sockaddr_un *sa, char **ret_error)
{
        struct stat st;
        int fd, r;

        if (lstat(path, &st) < 0)
                return errno == ENOENT
                               ? 0
                               : error_message(ret_error, negative_errno(), "Cannot stat %s: %m", path);
        if (!S_ISSOCK(st.st_mode))
                return error_message(ret_error, -EEXIST, "%s exists and is not a socket; not replacing it",
                                     path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();
        r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
        r = r == 0 || errno == EAGAIN ? -EADDRINUSE : 0;
        close(fd);
        if (r < 0)
                return error_message(ret_error, r, "Something else serves %s; not replacing it", path);
        if (unlink(path) < 0 && errno != ENOENT)
                return error_message(ret_error, negative_errno(), "Cannot remove the stale socket %s: %m",
                                     path);
        return 0;
}

int control_socket_open(const char *path, gid_t gid, int *ret_fd, int *ret_lock_fd, char **ret_error)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd = -1, lock_fd = -1, r;
        bool bound = false;
        mode_t old;

        if (strlen(path) >= sizeof(sa.sun_path))
                return error_message(ret_error, -ENAMETOOLONG, "%s: path too long for a UNIX socket", path);
        strcpy(sa.sun_path, path);
        r = check_directory(path, ret_error);
        if (r < 0)
                return r;
        r = take_lock(path, &lock_fd, ret_error);
        if (r < 0)
                return r;
        r = clear_path(path, &sa, ret_error);
        if (r < 0)
                goto fail;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
                r = error_message(ret_error, negative_errno(), "Cannot create a socket: %m");
                goto fail;
        }
        /* bind() creates the file with 0777 & ~umask: 0660 from the first instant. */
        old = umask(0117);
        r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
        umask(old);
        if (r < 0) {
                r = error_message(ret_error, negative_errno(), "Cannot bind %s: %m", path);
                goto fail;
        }
        bound = true;
        /* Until the group is set the file is the daemon's group only: narrower, never wider. */
        r = control_socket_set_group(path, gid);
        if (r < 0) {
                r = error_message(ret_error, r, "Cannot give %s to group %u: %m", path, (unsigned)gid);
                goto fail;
        }
        if (listen(fd, CONTROL_BACKLOG) < 0) {
                r = error_message(ret_error, negative_errno(), "Cannot listen on %s: %m", path);
                goto fail;
        }
        *ret_fd = fd;
        *ret_lock_fd = lock_fd;
        return 0;
fail:
        if (bound)
                (void)unlink(path);
        if (fd >= 0)
                close(fd);
        close(lock_fd);
        return r;
}

int control_socket_set_group(const char *path, gid_t gid)
{
        struct stat st;

        if (lstat(path, &st) < 0)
                return negative_errno();
        if (!S_ISSOCK(st.st_mode))
                return -ENOTSOCK;
        if (st.st_gid == gid)
                return 0;
        return lchown(path, (uid_t)-1, gid) < 0 ? negative_errno() : 0;
}
