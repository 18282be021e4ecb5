/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The control socket: accepts clients within their limits, decides what each may do from the
 * kernel's credentials, and dispatches requests. One event loop serves everything, so nothing
 * here may wait on a client. */
#include "vnuma/daemon/control-server.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "control-internal.h"
#include "vnuma/basic/error-message.h"
#include "vnuma/basic/event-loop.h"
#include "vnuma/basic/json-util.h"
#include "vnuma/basic/log.h"
#include "vnuma/config/daemon-config.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

#define CONTROL_HARD_MAX_CLIENTS    1024 /* the slot table's size; the config allows no more */
#define CONTROL_ACCEPT_BATCH        32   /* connections taken per wakeup of the listener */
#define CONTROL_MAX_ERROR           512  /* bytes of an error description */
#define CONTROL_REFUSAL_LOG_NS      (10ull * 1000000000ull)
#define CONTROL_REQUESTS_PER_WAKEUP 16

struct control_server {
        char *path;
        int fd;
        int lock_fd;
        int watch;
        int idle_timer;
        int idle_interval_ms; /* of idle_timer, -1 while disabled */
        struct control_options opts;
        const struct control_command *commands;
        size_t n_commands;
        void *userdata;
        struct control_client **clients; /* opts.max_clients... CONTROL_HARD_MAX_CLIENTS slots */
        unsigned n_clients;
        uint64_t refusal_logged; /* when a refusal was last logged */
        unsigned refusals;       /* refusals not logged since */
};

static uint64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void control_options_from_config(const struct daemon_config *c, struct control_options *ret)
{
        *ret = (struct control_options){
                .has_read_group = c->read_group != NULL,
                .read_gid = c->read_gid,
                .idle_timeout_ms = c->control_idle_timeout_ms,
                .max_clients = c->control_max_clients,
                .max_clients_user = c->control_max_clients_user,
        };
}

/* The sweep runs a few times per timeout, so a client goes within a quarter of it (at most 1 s)
 * after its time. No clients, no timer. */
static void update_idle_timer(struct control_server *s)
{
        int interval = -1;

        if (s->n_clients > 0)
                interval = (int)MIN(MAX(s->opts.idle_timeout_ms / 4, (uint64_t)10), (uint64_t)1000);
        if (interval != s->idle_interval_ms) {
                event_loop_update_timer(s->idle_timer, interval);
                s->idle_interval_ms = interval;
        }
}

static void client_drop(struct control_client *c)
{
        struct control_server *s = c->server;

        for (size_t i = 0; i < CONTROL_HARD_MAX_CLIENTS; i++)
                if (s->clients[i] == c) {
                        s->clients[i] = NULL;
                        s->n_clients--;
                        break;
                }
        control_client_free(c);
        update_idle_timer(s);
}

/* obj (consumed) as one line. */
static int send_object(struct control_client *c, struct json_object *obj)
{
        size_t len;
        const char *text = json_object_to_json_string_length(
                obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        int r = text ? control_client_send_line(c, text, len) : -ENOMEM;

        json_object_put(obj);
        return r;
}

static int send_error(struct control_client *c, struct json_object *id, const char *klass, const char *desc)
{
        struct json_object *o = json_object_new_object(), *e = json_object_new_object();
        _cleanup_free_ char *short_desc = control_echo(desc, CONTROL_MAX_ERROR);

        json_object_object_add(e, "class", json_object_new_string(klass));
        json_object_object_add(e, "desc", json_object_new_string(short_desc ?: "out of memory"));
        json_object_object_add(o, "error", e);
        if (id)
                json_object_object_add(o, "id", json_object_get(id));
        return send_object(c, o);
}

static const char *errno_class(int r)
{
        switch (r) {
        case -ENODEV:
        case -ENOENT:
                return "DeviceNotFound";
        case -EOPNOTSUPP:
                return "CommandNotFound";
        default:
                return "GenericError";
        }
}

static int send_return(struct control_client *c, struct json_object *id, struct json_object *ret)
{
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "return", ret ?: json_object_new_object());
        if (id)
                json_object_object_add(o, "id", json_object_get(id));
        return send_object(c, o);
}

static int dispatch(struct control_client *c, struct json_object *req)
{
        struct control_server *s = c->server;
        struct json_object *id = NULL, *ret = NULL;
        _cleanup_json_ struct json_object *args = NULL;
        _cleanup_free_ char *error = NULL, *msg = NULL, *quoted = NULL;
        const char *name;
        int r;

        /* The id comes back in the reply as sent: only a short one. */
        if (json_object_object_get_ex(req, "id", &id) &&
            strlen(json_object_to_json_string_ext(id, JSON_C_TO_STRING_PLAIN)) > CONTROL_MAX_ECHO)
                return send_error(c, NULL, "GenericError", "\"id\" longer than 64 bytes");
        if (json_member_string(req, "execute", &name) < 0)
                return send_error(c, id, "GenericError", "request has no \"execute\" string");
        /* QMP allows leaving "arguments" out: the command gets an empty object then. */
        r = control_request_arguments(req, &args, &error);
        if (r == -EBADMSG)
                return send_error(c, id, "GenericError", error);
        if (r < 0)
                return r;

        if (streq(name, "qmp_capabilities")) {
                c->negotiated = true;
                return send_return(c, id, NULL);
        }
        if (!c->negotiated)
                return send_error(c, id, "CommandNotFound",
                                  "Expecting capabilities negotiation with 'qmp_capabilities'");

        const struct control_command *cmd = NULL;
        for (size_t i = 0; i < s->n_commands; i++)
                if (streq(s->commands[i].name, name))
                        cmd = &s->commands[i];
        quoted = control_echo(name, CONTROL_MAX_ECHO);
        if (!quoted)
                return -ENOMEM;
        if (!cmd) {
                if (asprintf(&msg, "The command %s has not been found", quoted) < 0)
                        return -ENOMEM;
                return send_error(c, id, "CommandNotFound", msg);
        }
        if (c->access == CONTROL_ACCESS_NONE || (cmd->needs_write && c->access != CONTROL_ACCESS_WRITE)) {
                if (asprintf(&msg, "permission denied: %s needs %s (peer uid %u)", quoted,
                             cmd->needs_write || !s->opts.has_read_group ? "root" : "root or the read group",
                             (unsigned)c->uid) < 0)
                        return -ENOMEM;
                log_notice("control: refused %s for uid %u (pid %d)", quoted, (unsigned)c->uid, (int)c->pid);
                /* A peer with no access at all has nothing more to do here. */
                if (c->access == CONTROL_ACCESS_NONE)
                        c->closing = true;
                return send_error(c, id, "GenericError", msg);
        }

        r = cmd->handler(s->userdata, args, c->access == CONTROL_ACCESS_WRITE, &ret, &error);
        if (r < 0)
                return send_error(c, id, errno_class(r), error ?: strerror(-r));
        return send_return(c, id, ret);
}

/* Receives what is there. < 0: drop the client now. */
static int client_recv(struct control_client *c)
{
        char *space;
        size_t room;
        ssize_t n;
        int r;

        r = control_input_space(&c->in, &space, &room);
        if (r < 0)
                return r;
        n = recv(c->fd, space, room, MSG_DONTWAIT);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : negative_errno();
        if (n == 0)
                c->eof = true;
        control_input_commit(&c->in, (size_t)n);
        return 0;
}

/* Runs the complete requests received, while the client takes its replies, a few per wakeup so
 * that one busy client does not keep the others (and the period) waiting. */
static int client_process(struct control_client *c)
{
        unsigned done = 0;
        char *line;
        size_t len;
        int r;

        c->more = false;
        while (!c->closing && control_client_queued(c) == 0) {
                _cleanup_(json_object_putp) struct json_object *req = NULL;
                _cleanup_free_ char *error = NULL;

                if (done++ == CONTROL_REQUESTS_PER_WAKEUP) {
                        c->more = true;
                        break;
                }
                r = control_input_next(&c->in, &line, &len);
                if (r == 0)
                        break;
                if (r == -EMSGSIZE) {
                        c->closing = true;
                        log_notice("control: request of uid %u (pid %d) longer than %u bytes, closing",
                                   (unsigned)c->uid, (int)c->pid, CONTROL_MAX_REQUEST);
                        return send_error(c, NULL, "GenericError",
                                          "request longer than the limit of 65536 bytes per line; closing");
                }
                if (r < 0)
                        return r;
                c->last_request = now_ns();
                r = control_request_parse(line, len, &req, &error);
                if (r == -E2BIG) {
                        c->closing = true;
                        return send_error(c, NULL, "GenericError", error);
                }
                if (r < 0) {
                        /* Like QEMU: the parse error without an id; the next line starts afresh. */
                        r = send_error(c, NULL, "GenericError", error ?: "invalid JSON");
                } else
                        r = dispatch(c, req);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void client_event(int fd, bool readable, bool hangup, void *userdata)
{
        struct control_client *c = userdata;
        int r = 0;

        if (control_client_queued(c) > 0)
                r = control_client_flush(c);
        if (r >= 0)
                r = client_process(c);
        if (r >= 0 && readable && control_client_may_read(c)) {
                r = client_recv(c);
                if (r >= 0)
                        r = client_process(c);
        }
        /* Hung up with nothing left to read: nobody takes the replies any more. */
        if (r >= 0 && hangup && !readable)
                r = -ECONNRESET;
        if (r >= 0 && (c->closing || c->eof) && !c->more && control_client_queued(c) == 0)
                r = -ECONNRESET; /* all said */
        if (r < 0) {
                if (r == -ENOBUFS)
                        log_notice("control: uid %u (pid %d) left more than %u bytes unread, dropped",
                                   (unsigned)c->uid, (int)c->pid, CONTROL_MAX_QUEUED);
                client_drop(c);
                return;
        }
        control_client_update_watch(c);
}

static void on_idle_timer(void *userdata)
{
        struct control_server *s = userdata;
        uint64_t now = now_ns(), limit = s->opts.idle_timeout_ms * 1000000ull;

        for (size_t i = 0; i < CONTROL_HARD_MAX_CLIENTS; i++) {
                struct control_client *c = s->clients[i];

                if (c && now - c->last_request >= limit) {
                        log_debug("control: closing uid %u (pid %d), no request for %" PRIu64 " ms",
                                  (unsigned)c->uid, (int)c->pid, s->opts.idle_timeout_ms);
                        client_drop(c);
                }
        }
}

/* Whether the peer holds gid: from the kernel's record of its groups at connect time, not from
 * what /etc/group says its user could hold. */
static bool peer_in_group(int fd, gid_t primary, gid_t gid)
{
        gid_t small[64], *groups = small;
        _cleanup_free_ gid_t *big = NULL;
        socklen_t len = sizeof(small);
        bool found = false;

        if (primary == gid)
                return true;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, small, &len) < 0) {
                if (errno != ERANGE || !(big = malloc(len)))
                        return false;
                groups = big;
                if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
                        return false;
        }
        for (size_t i = 0; i < len / sizeof(gid_t); i++)
                found = found || groups[i] == gid;
        return found;
}

/* Why a new peer gets no slot, or NULL. */
static const char *over_limit(struct control_server *s, uid_t uid, char *buf, size_t size)
{
        unsigned same = 0, non_root = 0;

        if (uid == 0) {
                if (s->n_clients >= s->opts.max_clients)
                        snprintf(buf, size, "too many control clients (limit %u)", s->opts.max_clients);
                return s->n_clients >= s->opts.max_clients ? buf : NULL;
        }
        for (size_t i = 0; i < CONTROL_HARD_MAX_CLIENTS; i++)
                if (s->clients[i]) {
                        same += s->clients[i]->uid == uid;
                        non_root += s->clients[i]->uid != 0;
                }
        if (same >= s->opts.max_clients_user) {
                snprintf(buf, size, "too many control connections of uid %u (limit %u)", (unsigned)uid,
                         s->opts.max_clients_user);
                return buf;
        }
        /* The last slot is root's, so root can always get in to see what is going on; root's own
         * connections do not shrink what the others share. */
        if (non_root + 1 >= s->opts.max_clients || s->n_clients >= s->opts.max_clients) {
                snprintf(buf, size, "too many control clients (limit %u, the last one kept for root)",
                         s->opts.max_clients);
                return buf;
        }
        return NULL;
}

static void refuse(struct control_server *s, int fd, const struct ucred *cred, const char *why)
{
        char line[256];
        int n = snprintf(line, sizeof(line),
                         "{\"error\": {\"class\": \"GenericError\", \"desc\": \"%s\"}}\r\n", why);
        uint64_t now = now_ns();

        /* A fresh socket's buffer takes one line; if not, the peer learns it from the close. */
        (void)!send(fd, line, (size_t)MIN(n, (int)sizeof(line) - 1), MSG_NOSIGNAL | MSG_DONTWAIT);
        close(fd);
        /* One user retrying in a loop must not flood the log either. */
        s->refusals++;
        if (s->refusal_logged == 0 || now - s->refusal_logged >= CONTROL_REFUSAL_LOG_NS) {
                log_warning("control: refused pid %d uid %u: %s (%u refusals since the last message)",
                            (int)cred->pid, (unsigned)cred->uid, why, s->refusals);
                s->refusal_logged = now;
                s->refusals = 0;
        }
}

static void accept_one(struct control_server *s, int cfd)
{
        _cleanup_(control_client_freep) struct control_client *c = NULL;
        struct ucred cred;
        socklen_t len = sizeof(cred);
        char why[128];
        size_t slot;

        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
                close(cfd);
                return;
        }
        if (over_limit(s, cred.uid, why, sizeof(why))) {
                refuse(s, cfd, &cred, why);
                return;
        }
        if (control_client_new(s, cfd, &c) < 0) {
                close(cfd);
                return;
        }
        c->pid = cred.pid;
        c->uid = cred.uid;
        c->last_request = now_ns();
        c->access = cred.uid == 0 ? CONTROL_ACCESS_WRITE
                    : s->opts.has_read_group && peer_in_group(cfd, cred.gid, s->opts.read_gid)
                            ? CONTROL_ACCESS_READ
                            : CONTROL_ACCESS_NONE;
        c->watch = event_loop_add_io(cfd, client_event, c);
        if (c->watch < 0)
                return;

        struct json_object *greeting = json_object_new_object(), *qmp = json_object_new_object(),
                           *version = json_object_new_object();
        json_object_object_add(version, "vnumad", json_object_new_string(VNUMAD_VERSION));
        json_object_object_add(qmp, "version", version);
        json_object_object_add(qmp, "capabilities", json_object_new_array());
        json_object_object_add(greeting, "QMP", qmp);
        if (send_object(c, greeting) < 0)
                return;

        for (slot = 0; s->clients[slot]; slot++)
                ;
        s->clients[slot] = TAKE_PTR(c);
        s->n_clients++;
        update_idle_timer(s);
}

static void listener_readable(int fd, bool readable, bool hangup, void *userdata)
{
        struct control_server *s = userdata;

        for (unsigned i = 0; i < CONTROL_ACCEPT_BATCH; i++) {
                int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

                if (cfd < 0)
                        return;
                accept_one(s, cfd);
        }
}

static int check_options(const struct control_options *o)
{
        if (o->max_clients < 2 || o->max_clients > CONTROL_HARD_MAX_CLIENTS || o->max_clients_user < 1 ||
            o->idle_timeout_ms < 1)
                return -EINVAL;
        return 0;
}

int control_server_new(const char *path, const struct control_options *o,
                       const struct control_command *commands, size_t n_commands, void *userdata,
                       struct control_server **ret, char **ret_error)
{
        _cleanup_(control_server_freep) struct control_server *s = NULL;
        int r;

        if (check_options(o) < 0)
                return error_message(ret_error, -EINVAL, "invalid control socket limits");
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->fd = s->lock_fd = s->watch = s->idle_timer = -1;
        s->idle_interval_ms = -1;
        s->opts = *o;
        s->commands = commands;
        s->n_commands = n_commands;
        s->userdata = userdata;
        s->path = strdup(path);
        s->clients = calloc(CONTROL_HARD_MAX_CLIENTS, sizeof(*s->clients));
        if (!s->path || !s->clients)
                return -ENOMEM;
        r = control_socket_open(path, o->has_read_group ? o->read_gid : getegid(), &s->fd, &s->lock_fd,
                                ret_error);
        if (r < 0) {
                free(TAKE_PTR(s->path)); /* not ours: nothing to remove */
                return r;
        }
        s->idle_timer = event_loop_add_timer(-1, on_idle_timer, s);
        if (s->idle_timer < 0)
                return error_message(ret_error, s->idle_timer, "Cannot add a timer");
        s->watch = event_loop_add_io(s->fd, listener_readable, s);
        if (s->watch < 0)
                return error_message(ret_error, s->watch, "Cannot watch the control socket");
        *ret = TAKE_PTR(s);
        return 0;
}

int control_server_set_options(struct control_server *s, const struct control_options *o)
{
        int r;

        if (check_options(o) < 0)
                return -EINVAL;
        if (o->has_read_group != s->opts.has_read_group || o->read_gid != s->opts.read_gid) {
                r = control_socket_set_group(s->path, o->has_read_group ? o->read_gid : getegid());
                if (r < 0)
                        return r;
        }
        s->opts = *o;
        update_idle_timer(s);
        return 0;
}

int control_server_reconfigure(struct control_server *s, const struct daemon_config *c)
{
        struct control_options o;

        control_options_from_config(c, &o);
        return control_server_set_options(s, &o);
}

void control_server_free(struct control_server *s)
{
        if (!s)
                return;
        for (size_t i = 0; s->clients && i < CONTROL_HARD_MAX_CLIENTS; i++)
                control_client_free(s->clients[i]);
        free(s->clients);
        event_loop_remove_io(s->watch);
        event_loop_remove_timer(s->idle_timer);
        if (s->fd >= 0)
                close(s->fd);
        if (s->path && s->fd >= 0)
                (void)unlink(s->path);
        /* The lock goes last, once the socket file is gone. */
        if (s->lock_fd >= 0)
                close(s->lock_fd);
        free(s->path);
        free(s);
}

unsigned control_server_n_clients(const struct control_server *s)
{
        return s->n_clients;
}
