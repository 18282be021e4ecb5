/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Byte-level QMP transport over a connected stream socket (internal). */

#include "vnuma/qmp/qmp.h"

extern const struct qmp_transport_ops qmp_transport_fd_ops;

/* Wrap a connected stream socket as userdata for qmp_transport_fd_ops. Takes ownership of fd,
 * also on failure; switches it to non-blocking mode. */
int qmp_transport_fd_new(int fd, void **ret_userdata);

/* Connect to the UNIX stream socket at path (SOCK_CLOEXEC|SOCK_NONBLOCK). A full listen
 * backlog is retried until timeout_ms passes (-ETIMEDOUT). */
int qmp_unix_connect(const char *path, int timeout_ms, int *ret_fd);
