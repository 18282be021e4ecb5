/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "qmp-peer.h"

#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* No step of a test should wait longer than this for the client. */
#define PEER_IO_TIMEOUT_MS 5000

static void peer_failf(struct peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void peer_failf(struct peer *p, const char *fmt, ...)
{
        va_list ap;

        if (p->failure[0])
                return;
        va_start(ap, fmt);
        vsnprintf(p->failure, sizeof(p->failure), fmt, ap);
        va_end(ap);
}

static void sleep_ms(int ms)
{
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static int send_all(int fd, const char *buf, size_t len)
{
        while (len > 0) {
                ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                buf += n;
                len -= (size_t)n;
        }
        return 0;
}

/* Replace every "$ID" in text with id. */
static char *substitute_id(const char *text, size_t len, const char *id, size_t *ret_len)
{
        size_t idlen = strlen(id), n = 0, uses = 0;
        char *out;

        for (size_t i = 0; i + 3 <= len; i++)
                if (memcmp(text + i, "$ID", 3) == 0)
                        uses++;
        out = malloc(len + uses * idlen + 1);

        if (!out)
                return NULL;
        for (size_t i = 0; i < len; i++) {
                if (i + 3 <= len && memcmp(text + i, "$ID", 3) == 0) {
                        memcpy(out + n, id, idlen);
                        n += idlen;
                        i += 2;
                } else
                        out[n++] = text[i];
        }
        *ret_len = n;
        return out;
}

static void step_send(struct peer *p, const struct peer_step *s)
{
        const char *id = p->n_ids > 0 ? p->ids[p->n_ids - 1] : "";
        size_t len, frag;
        char *text;

        text = substitute_id(s->text, s->len ?: strlen(s->text), id, &len);
        if (!text) {
                peer_failf(p, "out of memory");
                return;
        }
        frag = s->fragment ?: len;
        for (size_t off = 0; off < len; off += frag) {
                int r = send_all(p->fd, text + off, len - off < frag ? len - off : frag);

                if (r < 0) {
                        peer_failf(p, "send failed: %s", strerror(-r));
                        break;
                }
                if (s->delay_ms > 0 && off + frag < len)
                        sleep_ms(s->delay_ms);
        }
        free(text);
}

/* Take one complete JSON object off the pending bytes. 1 = got one, 0 = need more. */
static int take_object(struct peer *p, struct json_object **ret)
{
        struct json_tokener *tok;
        struct json_object *obj;
        size_t start = 0, used;

        while (start < p->n_pending && strchr(" \t\r\n", p->pending[start]))
                start++;
        if (start == p->n_pending) {
                p->n_pending = 0;
                return 0;
        }
        tok = json_tokener_new();
        obj = json_tokener_parse_ex(tok, p->pending + start, (int)(p->n_pending - start));
        used = json_tokener_get_parse_end(tok);
        if (!obj && json_tokener_get_error(tok) != json_tokener_continue)
                peer_failf(p, "client sent invalid JSON: %.*s", (int)(p->n_pending - start),
                           p->pending + start);
        json_tokener_free(tok);
        if (!obj)
                return 0;
        memmove(p->pending, p->pending + start + used, p->n_pending - start - used);
        p->n_pending -= start + used;
        *ret = obj;
        return 1;
}

/* Read the next command. 1 = got one, 0 = EOF, <0 = error or timeout. */
static int read_command(struct peer *p, struct json_object **ret)
{
        for (;;) {
                struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
                char buf[4096];
                ssize_t n;
                char *np;

                if (take_object(p, ret) > 0)
                        return 1;
                if (p->failure[0])
                        return -EBADMSG;
                n = poll(&pfd, 1, PEER_IO_TIMEOUT_MS);
                if (n == 0)
                        return -ETIMEDOUT;
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                n = recv(p->fd, buf, sizeof(buf), 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return 0;
                np = realloc(p->pending, p->n_pending + (size_t)n);
                if (!np)
                        return -ENOMEM;
                p->pending = np;
                memcpy(p->pending + p->n_pending, buf, (size_t)n);
                p->n_pending += (size_t)n;
        }
}

static void step_expect(struct peer *p, const struct peer_step *s)
{
        struct json_object *cmd = NULL, *v;
        int r;

        r = read_command(p, &cmd);
        if (r <= 0) {
                peer_failf(p, "expected command %s, got %s", s->text, r == 0 ? "EOF" : strerror(-r));
                return;
        }
        if (!json_object_object_get_ex(cmd, "execute", &v) || !json_object_is_type(v, json_type_string) ||
            strcmp(json_object_get_string(v), s->text) != 0)
                peer_failf(p, "expected command %s, got %s", s->text, json_object_to_json_string(cmd));
        else if (json_object_object_get_ex(cmd, "id", &v) && json_object_is_type(v, json_type_string)) {
                if (p->n_ids < PEER_MAX_IDS)
                        snprintf(p->ids[p->n_ids++], sizeof(p->ids[0]), "%s", json_object_get_string(v));
        } else
                peer_failf(p, "command %s has no string id", s->text);
        if (s->args) {
                struct json_object *want = json_tokener_parse(s->args);

                if (!json_object_object_get_ex(cmd, "arguments", &v) || !json_object_equal(v, want))
                        peer_failf(p, "command %s: arguments %s, expected %s", s->text,
                                   json_object_to_json_string(v), s->args);
                json_object_put(want);
        }
        json_object_put(cmd);
}

static void *peer_main(void *userdata)
{
        struct peer *p = userdata;

        if (p->listen_fd >= 0) {
                p->fd = accept(p->listen_fd, NULL, NULL);
                if (p->fd < 0) {
                        peer_failf(p, "accept failed: %s", strerror(errno));
                        return NULL;
                }
        }

        for (size_t i = 0; i < p->n_steps && !p->failure[0]; i++) {
                const struct peer_step *s = &p->steps[i];

                switch (s->kind) {
                case PEER_SEND:
                        step_send(p, s);
                        break;
                case PEER_EXPECT:
                        step_expect(p, s);
                        break;
                case PEER_SLEEP:
                        sleep_ms(s->delay_ms);
                        break;
                case PEER_CLOSE:
                        close(p->fd);
                        p->fd = -1;
                        return NULL;
                }
        }

        /* Script done: hold the connection until the client closes it, counting anything
         * further it sends. */
        for (;;) {
                struct json_object *cmd;
                int r = read_command(p, &cmd);

                if (r <= 0) {
                        if (r < 0 && r != -ECONNRESET)
                                peer_failf(p, "after the script: %s", strerror(-r));
                        break;
                }
                p->commands_after_script++;
                json_object_put(cmd);
        }
        return NULL;
}

static int peer_new(const struct peer_step *steps, size_t n_steps, struct peer **ret)
{
        struct peer *p = calloc(1, sizeof(*p));

        if (!p)
                return -ENOMEM;
        p->fd = -1;
        p->listen_fd = -1;
        p->steps = steps;
        p->n_steps = n_steps;
        *ret = p;
        return 0;
}

static int peer_run(struct peer *p)
{
        int r = pthread_create(&p->thread, NULL, peer_main, p);

        return r != 0 ? -r : 0;
}

int peer_start(const struct peer_step *steps, size_t n_steps, int *ret_client_fd, struct peer **ret)
{
        struct peer *p;
        int sv[2], r;

        r = peer_new(steps, n_steps, &p);
        if (r < 0)
                return r;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
                r = -errno;
                free(p);
                return r;
        }
        p->fd = sv[1];
        r = peer_run(p);
        if (r < 0) {
                close(sv[0]);
                close(sv[1]);
                free(p);
                return r;
        }
        *ret_client_fd = sv[0];
        *ret = p;
        return 0;
}

int peer_start_listening(const struct peer_step *steps, size_t n_steps, const char *path, struct peer **ret)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct peer *p;
        int r;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        r = peer_new(steps, n_steps, &p);
        if (r < 0)
                return r;
        p->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (p->listen_fd < 0 || bind(p->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            listen(p->listen_fd, 1) < 0 || (r = peer_run(p)) < 0) {
                r = r < 0 ? r : -errno;
                if (p->listen_fd >= 0)
                        close(p->listen_fd);
                free(p);
                return r;
        }
        *ret = p;
        return 0;
}

const char *peer_finish(struct peer *p)
{
        pthread_join(p->thread, NULL);
        return p->failure;
}

void peer_free(struct peer *p)
{
        if (!p)
                return;
        if (p->fd >= 0)
                close(p->fd);
        if (p->listen_fd >= 0)
                close(p->listen_fd);
        free(p->pending);
        free(p);
}
