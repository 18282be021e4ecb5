/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vnuma/daemon/control-server.h"

#include <fcntl.h>
#include <grp.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "qmp-framer.h"
#include "vnuma/basic/event-loop.h"
#include "vnuma/basic/json-util.h"
#include "vnuma/basic/log.h"

#define CONTROL_MAX_CLIENTS   32
#define CONTROL_MAX_REQUEST   (1u << 20)
#define CONTROL_WRITE_TIMEOUT 2000

enum access_level { ACCESS_NONE, ACCESS_READ, ACCESS_WRITE };

struct control_client {
        struct control_server *server;
        int fd;
        int watch;
        pid_t pid;
        uid_t uid;
        enum access_level access;
        bool negotiated;
        struct qmp_framer *framer;
};

struct control_server {
        char *path;
        char *read_group;
        int fd;
        int watch;
        bool bound; /* the socket file is ours to remove */
        const struct control_command *commands;
        size_t n_commands;
        void *userdata;
        struct control_client *clients[CONTROL_MAX_CLIENTS];
};

static void client_free(struct control_client *c)
{
        if (!c)
                return;
        event_loop_remove_io(c->watch);
        if (c->fd >= 0)
                close(c->fd);
        qmp_framer_free(c->framer);
        free(c);
}

static void client_drop(struct control_client *c)
{
        struct control_server *s = c->server;

        for (size_t i = 0; i < CONTROL_MAX_CLIENTS; i++)
                if (s->clients[i] == c)
                        s->clients[i] = NULL;
        client_free(c);
}

static int write_all(int fd, const char *buf, size_t len)
{
        while (len > 0) {
                ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

                if (n < 0 && errno == EAGAIN) {
                        struct pollfd p = {.fd = fd, .events = POLLOUT};
                        int r = poll(&p, 1, CONTROL_WRITE_TIMEOUT);
                        if (r <= 0)
                                return r == 0 ? -ETIMEDOUT : negative_errno();
                        continue;
                }
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                buf += n;
                len -= (size_t)n;
        }
        return 0;
}

/* Sends obj (consumed) as one line. */
static int send_object(struct control_client *c, struct json_object *obj)
{
        const char *text =
                json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        int r = write_all(c->fd, text, strlen(text));

        if (r >= 0)
                r = write_all(c->fd, "\r\n", 2);
        json_object_put(obj);
        return r;
}

static int send_error(struct control_client *c, struct json_object *id, const char *klass, const char *desc)
{
        struct json_object *o = json_object_new_object(), *e = json_object_new_object();

        json_object_object_add(e, "class", json_object_new_string(klass));
        json_object_object_add(e, "desc", json_object_new_string(desc));
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

static int dispatch(struct control_client *c, struct json_object *req)
{
        struct control_server *s = c->server;
        struct json_object *id = NULL, *args = NULL, *ret = NULL;
        _cleanup_free_ char *error = NULL;
        const char *name;
        int r;

        json_object_object_get_ex(req, "id", &id);
        if (json_member_string(req, "execute", &name) < 0)
                return send_error(c, id, "GenericError", "request has no \"execute\" string");
        r = json_member_object(req, "arguments", &args);
        if (r == -EBADMSG)
                return send_error(c, id, "GenericError", "\"arguments\" must be an object");

        if (streq(name, "qmp_capabilities")) {
                c->negotiated = true;
                struct json_object *o = json_object_new_object();
                json_object_object_add(o, "return", json_object_new_object());
                if (id)
                        json_object_object_add(o, "id", json_object_get(id));
                return send_object(c, o);
        }
        if (!c->negotiated)
                return send_error(c, id, "CommandNotFound",
                                  "Expecting capabilities negotiation with 'qmp_capabilities'");

        const struct control_command *cmd = NULL;
        for (size_t i = 0; i < s->n_commands; i++)
                if (streq(s->commands[i].name, name))
                        cmd = &s->commands[i];
        if (!cmd) {
                _cleanup_free_ char *msg = NULL;
                if (asprintf(&msg, "The command %s has not been found", name) < 0)
                        return -ENOMEM;
                return send_error(c, id, "CommandNotFound", msg);
        }
        if (c->access == ACCESS_NONE || (cmd->needs_write && c->access != ACCESS_WRITE)) {
                _cleanup_free_ char *msg = NULL;
                if (asprintf(&msg, "permission denied: %s needs %s (peer uid %u)", name,
                             cmd->needs_write || !s->read_group ? "root" : "root or the read group",
                             (unsigned)c->uid) < 0)
                        return -ENOMEM;
                log_notice("control: refused %s for uid %u (pid %d)", name, (unsigned)c->uid, (int)c->pid);
                return send_error(c, id, "GenericError", msg);
        }

        r = cmd->handler(s->userdata, args, c->access == ACCESS_WRITE, &ret, &error);
        if (r < 0)
                return send_error(c, id, errno_class(r), error ?: strerror(-r));
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "return", ret ?: json_object_new_object());
        if (id)
                json_object_object_add(o, "id", json_object_get(id));
        return send_object(c, o);
}

static void client_readable(int fd, bool readable, bool hangup, void *userdata)
{
        struct control_client *c = userdata;
        char buf[65536];
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        size_t off = 0;

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n <= 0) {
                client_drop(c);
                return;
        }
        while (off < (size_t)n) {
                struct json_object *obj = NULL;
                size_t used = 0;
                int r = qmp_framer_feed(c->framer, buf + off, (size_t)n - off, &used, &obj);

                if (r < 0) {
                        /* Like QEMU: report the parse error without an id, then start afresh. */
                        if (send_error(c, NULL, "GenericError",
                                       qmp_framer_error(c->framer) ?: "invalid JSON") < 0) {
                                client_drop(c);
                                return;
                        }
                        qmp_framer_reset(c->framer);
                        return;
                }
                off += used;
                if (r == 0)
                        break;
                r = dispatch(c, obj);
                json_object_put(obj);
                if (r < 0) {
                        client_drop(c);
                        return;
                }
        }
}

/* Whether the peer process belongs to the group: its gid from SO_PEERCRED, or one of its
 * supplementary groups as the kernel shows them in /proc/PID/status (what the process really
 * holds, not what /etc/group says its user could hold). */
static bool peer_in_group(pid_t pid, gid_t gid, const char *group)
{
        struct group *g = getgrnam(group);
        char path[64], line[4096];
        bool found = false;
        FILE *f;

        if (!g)
                return false;
        if (gid == g->gr_gid)
                return true;
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        f = fopen(path, "re");
        if (!f)
                return false;
        while (!found && fgets(line, sizeof(line), f)) {
                char *p, *end;

                if (!startswith(line, "Groups:"))
                        continue;
                for (p = line + 7;; p = end) {
                        unsigned long v = strtoul(p, &end, 10);
                        if (end == p)
                                break;
                        if ((gid_t)v == g->gr_gid)
                                found = true;
                }
        }
        fclose(f);
        return found;
}

static void listener_readable(int fd, bool readable, bool hangup, void *userdata)
{
        struct control_server *s = userdata;
        struct control_client *c;
        struct ucred cred;
        socklen_t len = sizeof(cred);
        size_t slot;
        int cfd, r;

        cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0)
                return;
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
                close(cfd);
                return;
        }
        for (slot = 0; slot < CONTROL_MAX_CLIENTS && s->clients[slot]; slot++)
                ;
        if (slot == CONTROL_MAX_CLIENTS) {
                log_warning("control: too many clients, refusing pid %d", (int)cred.pid);
                close(cfd);
                return;
        }
        c = calloc(1, sizeof(*c));
        if (!c || qmp_framer_new(CONTROL_MAX_REQUEST, &c->framer) < 0) {
                free(c);
                close(cfd);
                return;
        }
        c->server = s;
        c->fd = cfd;
        c->pid = cred.pid;
        c->uid = cred.uid;
        c->access = cred.uid == 0                                                       ? ACCESS_WRITE
                    : s->read_group && peer_in_group(cred.pid, cred.gid, s->read_group) ? ACCESS_READ
                                                                                        : ACCESS_NONE;
        c->watch = event_loop_add_io(cfd, client_readable, c);
        if (c->watch < 0) {
                client_free(c);
                return;
        }
        s->clients[slot] = c;

        struct json_object *greeting = json_object_new_object(), *qmp = json_object_new_object(),
                           *version = json_object_new_object();
        json_object_object_add(version, "vnumad", json_object_new_string(VNUMAD_VERSION));
        json_object_object_add(qmp, "version", version);
        json_object_object_add(qmp, "capabilities", json_object_new_array());
        json_object_object_add(greeting, "QMP", qmp);
        r = send_object(c, greeting);
        if (r < 0)
                client_drop(c);
}

int control_server_new(const char *path, const char *read_group, const struct control_command *commands,
                       size_t n_commands, void *userdata, struct control_server **ret)
{
        _cleanup_(control_server_freep) struct control_server *s = NULL;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_free_ char *dir = NULL;
        char *slash;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->fd = s->watch = -1;
        s->commands = commands;
        s->n_commands = n_commands;
        s->userdata = userdata;
        s->path = strdup(path);
        if (!s->path || (read_group && !(s->read_group = strdup(read_group))))
                return -ENOMEM;

        dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                        return negative_errno();
        }

        s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (s->fd < 0)
                return negative_errno();
        strcpy(sa.sun_path, path);
        /* A socket file left by a previous instance: remove it only if nobody answers. */
        if (connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
                return -EADDRINUSE;
        close(s->fd);
        s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (s->fd < 0)
                return negative_errno();
        (void)unlink(path);
        if (bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return negative_errno();
        s->bound = true;
        /* Everyone may connect; SO_PEERCRED decides what they may do, with a clear error. */
        if (chmod(path, 0666) < 0 || listen(s->fd, 16) < 0)
                return negative_errno();
        s->watch = event_loop_add_io(s->fd, listener_readable, s);
        if (s->watch < 0)
                return s->watch;
        *ret = TAKE_PTR(s);
        return 0;
}

void control_server_free(struct control_server *s)
{
        if (!s)
                return;
        for (size_t i = 0; i < CONTROL_MAX_CLIENTS; i++)
                client_free(s->clients[i]);
        event_loop_remove_io(s->watch);
        if (s->fd >= 0)
                close(s->fd);
        if (s->bound)
                (void)unlink(s->path);
        free(s->path);
        free(s->read_group);
        free(s);
}

unsigned control_server_n_clients(const struct control_server *s)
{
        unsigned n = 0;

        for (size_t i = 0; i < CONTROL_MAX_CLIENTS; i++)
                n += s->clients[i] != NULL;
        return n;
}
