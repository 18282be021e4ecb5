/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* libvirt errors as -errno plus a message, and a quiet error handler.
 *
 * libvirt's default handler prints every error to stderr; vnumad logs once at the caller, so
 * libvirt_quiet_errors() installs a no-op handler for the process (and per connection). */

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

/* Installs the no-op handler globally (virSetErrorFunc). Idempotent. */
void libvirt_quiet_errors(void);
/* The same for one connection (virConnSetErrorFunc). conn may be NULL. */
void libvirt_quiet_conn_errors(virConnectPtr conn);

/* -errno for a libvirt error, never 0:
 *   -ENOENT no such domain, -ENODATA no metadata, -EINVAL invalid argument/XML/operation,
 *   -EOPNOTSUPP unsupported, -EACCES denied, -ETIMEDOUT timeout, -ECONNRESET connection or RPC
 *   failure, -EEXIST domain exists, -ENOMEM, a system error's own errno, -EIO otherwise. */
int libvirt_error_to_errno(const virError *e);

/* Maps the calling thread's last libvirt error (virGetLastError) and resets it. Returns -errno,
 * never 0 (-EIO if libvirt recorded nothing). If ret_message is non-NULL it gets the error text
 * (malloc'd, replacing and freeing what *ret_message held, so start it at NULL), e.g.
 * "Domain not found: no domain with matching name 'x'". */
int libvirt_last_error(char **ret_message);
