/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The control socket (default /run/vnumad/vnumad.sock): newline-delimited JSON shaped like QMP,
 * so vnumactl talks to it with the same QMP client it uses for QEMU.
 *
 *   <- {"QMP": {"version": {"vnumad": "0.1.0"}, "capabilities": []}}
 *   -> {"execute": "qmp_capabilities", "id": 1}           <- {"return": {}, "id": 1}
 *   -> {"execute": "status", "id": 2}                      <- {"return": {...}, "id": 2}
 *   -> {"execute": "show", "arguments": {"domain": "x"}}   <- {"error": {"class": "DeviceNotFound",
 *                                                                 "desc": "no VM named x"}}
 *
 * Access comes from SO_PEERCRED: root may do everything; members of the configured read group
 * may run read-only commands; everyone else gets "permission denied" for every command. */

#include <stdbool.h>
#include <stddef.h>

#include "vnuma/basic/macro.h"

struct json_object;

/* A handler fills *ret (new reference; NULL means {}) or fails with -errno and a description
 * in *ret_error. -ENODEV maps to error class DeviceNotFound, -EINVAL to GenericError. */
typedef int (*control_handler)(void *userdata, struct json_object *args, bool may_write,
                               struct json_object **ret, char **ret_error);

struct control_command {
        const char *name;
        bool needs_write; /* refused for read-only peers before the handler runs */
        control_handler handler;
};

struct control_server;

int control_server_new(const char *path, const char *read_group, const struct control_command *commands,
                       size_t n_commands, void *userdata, struct control_server **ret);
/* Closes every client and removes the socket file. */
void control_server_free(struct control_server *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct control_server *, control_server_free);

unsigned control_server_n_clients(const struct control_server *s);
