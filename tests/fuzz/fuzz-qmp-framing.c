/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* QMP framing and message parsing. The input is a raw QMP byte stream (a transcript of what
 * QEMU sends), so any recorded session is a seed. A hash of the input picks the object size
 * limit and seeds the split points. The stream is framed twice, in pieces and whole, and both
 * must yield the same objects and outcome; each object is then parsed as a QMP message.
 * Finally a client is driven over a transport that plays the stream back, so greeting, id
 * matching ("vnuma-1" is qmp_capabilities, then "vnuma-2", ...) and event queueing see it. */
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "qmp-framer.h"
#include "qmp-message.h"
#include "vnuma/qmp/qmp.h"

#define MAX_OBJECTS 256

struct framed {
        struct json_object *objects[MAX_OBJECTS];
        size_t n;
        int result; /* 0, or the framer's error */
};

static void framed_clear(struct framed *f)
{
        for (size_t i = 0; i < f->n; i++)
                json_object_put(f->objects[i]);
        f->n = 0;
}

/* xorshift32: the split sizes come from the input, not from a clock. */
static uint32_t next_rand(uint32_t *state)
{
        uint32_t x = *state;

        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        return *state = x;
}

/* Frame data in pieces (max_piece 0: all at once). */
static void frame(const uint8_t *data, size_t size, size_t max_object, uint32_t seed, size_t max_piece,
                  struct framed *out)
{
        _cleanup_(qmp_framer_freep) struct qmp_framer *f = NULL;
        uint32_t state = seed | 1;
        size_t pos = 0;

        out->n = 0;
        out->result = 0;
        if (qmp_framer_new(max_object, &f) < 0)
                abort();
        while (pos < size && out->result == 0) {
                size_t piece = max_piece ? 1 + next_rand(&state) % max_piece : size - pos;

                if (piece > size - pos)
                        piece = size - pos;
                while (piece > 0) {
                        struct json_object *obj;
                        size_t used;
                        int r = qmp_framer_feed(f, data + pos, piece, &used, &obj);

                        if (r < 0) {
                                if (!qmp_framer_error(f) || (r != -EBADMSG && r != -EMSGSIZE))
                                        abort();
                                out->result = r;
                                break;
                        }
                        if (used > piece)
                                abort();
                        pos += used;
                        piece -= used;
                        if (r == 0)
                                break;
                        if (!json_object_is_type(obj, json_type_object))
                                abort();
                        if (out->n < MAX_OBJECTS)
                                out->objects[out->n++] = obj;
                        else
                                json_object_put(obj);
                }
        }
}

static void parse_messages(const struct framed *f)
{
        for (size_t i = 0; i < f->n; i++) {
                struct qmp_message m;
                const char *problem = NULL;
                int major, minor, micro;

                if (qmp_message_parse(f->objects[i], &m, &problem) < 0) {
                        if (!problem)
                                abort();
                        continue;
                }
                switch (m.kind) {
                case QMP_MESSAGE_GREETING:
                        qmp_greeting_version(&m, &major, &minor, &micro);
                        if (major < 0 || minor < 0 || micro < 0)
                                abort();
                        break;
                case QMP_MESSAGE_ERROR:
                        if (qmp_error_class_to_errno(m.error_class) >= 0)
                                abort();
                        break;
                case QMP_MESSAGE_EVENT:
                        if (!m.event)
                                abort();
                        break;
                case QMP_MESSAGE_RETURN:
                        break;
                }
        }
}

/* A byte-level transport that plays the stream back in pieces and swallows commands. */
struct playback {
        const uint8_t *data;
        size_t size, pos;
        uint32_t state;
};

static int playback_write_all(void *userdata, const void *buf, size_t len, int timeout_ms)
{
        return 0;
}

static ssize_t playback_read_some(void *userdata, void *buf, size_t len, int timeout_ms)
{
        struct playback *p = userdata;
        size_t n = 1 + next_rand(&p->state) % 97;

        n = n < len ? n : len;
        n = n < p->size - p->pos ? n : p->size - p->pos;
        memcpy(buf, p->data + p->pos, n);
        p->pos += n;
        return (ssize_t)n; /* 0 at the end: EOF */
}

static void playback_close(void *userdata)
{
        free(userdata);
}

static const struct qmp_transport_ops playback_ops = {
        .name = "playback",
        .write_all = playback_write_all,
        .read_some = playback_read_some,
        .close = playback_close,
};

static void drive_client(const uint8_t *data, size_t size, size_t max_object, uint32_t seed)
{
        _cleanup_(qmp_client_freep) struct qmp_client *c = NULL;
        struct json_object *ret = NULL, *ev;
        struct playback *p = calloc(1, sizeof(*p));
        char *text = NULL;

        if (!p)
                return;
        *p = (struct playback){.data = data, .size = size, .state = seed | 1};
        if (qmp_client_new(&playback_ops, p, 0, &c) < 0)
                return;
        qmp_client_set_max_reply(c, max_object);
        if (qmp_client_execute(c, "query-status", NULL, &ret) >= 0)
                json_object_put(ret);
        else if (!qmp_client_error_message(c))
                abort();
        if (qmp_client_hmp(c, "info numa", &text) >= 0)
                free(text);
        (void)qmp_client_poll_events(c, 0);
        while (qmp_client_pop_event(c, &ev) > 0) {
                if (!json_object_is_type(ev, json_type_object))
                        abort();
                json_object_put(ev);
        }
}

/* FNV-1a: the limit and the split points follow from the input, not from a clock. */
static uint32_t hash(const uint8_t *data, size_t size)
{
        uint32_t h = 2166136261u;

        for (size_t i = 0; i < size; i++)
                h = (h ^ data[i]) * 16777619u;
        return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct framed split = {}, whole = {};
        uint32_t h = hash(data, size);
        /* Mostly roomy, one input in four with a small limit to reach -EMSGSIZE. */
        size_t max_object = (h & 3) == 0 ? 8 + (h >> 2) % 1024 : 65536;
        size_t max_piece = 1 + (h >> 12) % 64;

        frame(data, size, max_object, h, max_piece, &split);
        frame(data, size, max_object, 0, 0, &whole);
        /* Framing must not depend on where the reads split the stream. */
        if (split.result != whole.result || split.n != whole.n)
                abort();
        /* Compared as text: json_object_equal() calls NaN (which json-c accepts) unequal to itself. */
        for (size_t i = 0; i < split.n; i++)
                if (!streq(json_object_to_json_string_ext(split.objects[i], JSON_C_TO_STRING_PLAIN),
                           json_object_to_json_string_ext(whole.objects[i], JSON_C_TO_STRING_PLAIN)))
                        abort();
        parse_messages(&whole);
        framed_clear(&split);
        framed_clear(&whole);

        drive_client(data, size, max_object, h);
        return 0;
}
