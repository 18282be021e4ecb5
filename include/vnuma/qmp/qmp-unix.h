/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* QMP over a UNIX socket that QEMU serves, with who serves it.
 *
 * vnumad acts on the process behind a QMP socket, so that process is named by the kernel, not by
 * what it says: SO_PEERCRED gives the pid that created the listening socket, which for `-qmp
 * unix:PATH,server=on` is QEMU itself. Before connecting, the path is checked so that nobody but
 * the directory's owner (or root) can have put a socket there:
 *   - lstat(2): a socket, not a symbolic link;
 *   - owned by root or by the owner of the directory it is in;
 *   - that directory is not writable by group or others, unless it is sticky (like /tmp). */

#include <sys/types.h>

struct qmp_client;

/* 0 if path passes the checks above; otherwise -ELOOP (a symlink), -ENOTSOCK, -EPERM (owner or
 * directory mode) or the lstat/stat error, with *ret_error (if non-NULL) saying which (without the path,
 * which the caller names). */
int qmp_unix_check_path(const char *path, char **ret_error);

/* The pid of the process that serves the connected socket fd (SO_PEERCRED). -ESRCH if the peer is
 * not visible in our pid namespace (the kernel reports pid 0). */
int qmp_unix_peer_pid(int fd, pid_t *ret_pid);

/* qmp_unix_check_path(), connect, SO_PEERCRED, then the greeting as qmp_client_connect_unix().
 * *ret_peer_pid is the server's pid. Errors as qmp_client_connect_unix(), and those of the checks
 * (with *ret_error set; for the others it stays NULL). */
int qmp_client_connect_unix_peer(const char *path, int timeout_ms, struct qmp_client **ret,
                                 pid_t *ret_peer_pid, char **ret_error);
