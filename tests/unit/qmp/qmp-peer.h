/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A scripted QMP peer for the client tests: a thread on the far end of a socketpair (or of a
 * listening UNIX socket) that writes scripted bytes, in chosen fragments and with chosen
 * pauses, and checks each command the client sends. */

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

enum peer_step_kind {
        PEER_SEND,   /* write text; "$ID" is replaced by the id of the last EXPECTed command */
        PEER_EXPECT, /* read one command; check "execute" (and "arguments" if given) */
        PEER_SLEEP,  /* pause delay_ms */
        PEER_CLOSE,  /* close the connection now */
};

struct peer_step {
        enum peer_step_kind kind;
        const char *text; /* SEND: bytes; EXPECT: command name */
        size_t len;       /* SEND: byte count if text holds NULs, 0 for strlen */
        size_t fragment;  /* SEND: bytes per write, 0 for one write */
        int delay_ms;     /* SEND: pause between fragments; SLEEP: duration */
        const char *args; /* EXPECT: JSON the arguments must equal, NULL to skip */
};

#define SEND(t)                                \
        {                                      \
                .kind = PEER_SEND, .text = (t) \
        }
#define SEND_LEN(t, l)                                     \
        {                                                  \
                .kind = PEER_SEND, .text = (t), .len = (l) \
        }
#define SEND_SPLIT(t, frag, ms)                                                      \
        {                                                                            \
                .kind = PEER_SEND, .text = (t), .fragment = (frag), .delay_ms = (ms) \
        }
#define EXPECT(cmd)                                \
        {                                          \
                .kind = PEER_EXPECT, .text = (cmd) \
        }
#define EXPECT_ARGS(cmd, a)                                     \
        {                                                       \
                .kind = PEER_EXPECT, .text = (cmd), .args = (a) \
        }
#define SLEEP(ms)                                    \
        {                                            \
                .kind = PEER_SLEEP, .delay_ms = (ms) \
        }
#define CLOSE()                    \
        {                          \
                .kind = PEER_CLOSE \
        }

#define GREETING                                                                                       \
        "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 3, \"minor\": 2, \"major\": 7}, \"package\": " \
        "\"Debian 1:7.2+dfsg-7\"}, \"capabilities\": [\"oob\"]}}\r\n"
#define RETURN_EMPTY "{\"return\": {}, \"id\": \"$ID\"}\r\n"
/* The greeting and the capabilities handshake, as QEMU does them. */
#define HANDSHAKE SEND(GREETING), EXPECT("qmp_capabilities"), SEND(RETURN_EMPTY)

#define PEER_MAX_IDS 16

struct peer {
        int fd;
        int listen_fd;
        const struct peer_step *steps;
        size_t n_steps;
        char failure[256];          /* first deviation from the script, "" if none */
        char ids[PEER_MAX_IDS][64]; /* ids of the commands received, in order */
        size_t n_ids;
        size_t commands_after_script; /* complete commands received after the last step */
        char *pending;                /* received bytes not yet parsed */
        size_t n_pending;
        pthread_t thread;
};

/* Start the peer on a socketpair; *ret_client_fd is the client's end. */
int peer_start(const struct peer_step *steps, size_t n_steps, int *ret_client_fd, struct peer **ret);
/* Start the peer listening on a UNIX socket at path; it accepts one connection. */
int peer_start_listening(const struct peer_step *steps, size_t n_steps, const char *path, struct peer **ret);
/* Wait until the client closed its end (call after freeing the client) and the script ended.
 * Returns the failure text, "" if the peer saw exactly what the script expects. */
const char *peer_finish(struct peer *p);
void peer_free(struct peer *p);

#define PEER_START(steps, fdp, pp) peer_start((steps), sizeof(steps) / sizeof((steps)[0]), (fdp), (pp))
