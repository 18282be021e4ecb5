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
 * One request per line, at most CONTROL_MAX_REQUEST (64 KiB) and CONTROL_MAX_DEPTH (16) levels
 * deep; a longer or deeper request gets an error naming the limit and the connection is closed.
 *
 * Who may connect is the socket file's business: mode 0660, owner root, group the read group
 * (root's without one). What a peer may do comes from the kernel's SO_PEERCRED and
 * SO_PEERGROUPS: root may do everything; members of the read group (primary or supplementary)
 * may run read-only commands; anyone else who reached the socket gets "permission denied" and
 * is disconnected. Limits keep any one user from stalling the daemon or locking others out: a
 * connection cap per uid with a slot always kept for root, an idle timeout, replies that never
 * wait (queued, at most 1 MiB unread, then the client is dropped). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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
struct daemon_config;

struct control_options {
        bool has_read_group;
        gid_t read_gid;
        uint64_t idle_timeout_ms;  /* a client without a complete request for this long is closed */
        unsigned max_clients;      /* in all; one of them only root may use */
        unsigned max_clients_user; /* per uid other than root */
};

/* The options of a loaded config ([daemon] read-group and control-*). */
void control_options_from_config(const struct daemon_config *c, struct control_options *ret);

/* Listens at path (see control_socket_open() for the checks). On failure *ret_error says why. */
int control_server_new(const char *path, const struct control_options *o, const struct control_command *commands,
                       size_t n_commands, void *userdata, struct control_server **ret, char **ret_error);
/* New limits and read group (a reload): the socket file changes group; clients already
 * connected keep the access they had. */
int control_server_set_options(struct control_server *s, const struct control_options *o);
/* The same from a reloaded config. */
int control_server_reconfigure(struct control_server *s, const struct daemon_config *c);
/* Closes every client and removes the socket file. */
void control_server_free(struct control_server *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct control_server *, control_server_free);

unsigned control_server_n_clients(const struct control_server *s);
