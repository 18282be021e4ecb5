/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The control socket's input: bytes from a client, cut into receives of the sizes the input's
 * first byte says, then lines, then requests. No line may exceed the limit, every refusal names
 * its reason, and every accepted request is a JSON object. */
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control-request.h"
#include "fuzz.h"

static void use_lines(struct control_input *in)
{
        char *line;
        size_t len;
        int r;

        while ((r = control_input_next(in, &line, &len)) > 0) {
                struct json_object *o = NULL;
                char *err = NULL;

                if (len > CONTROL_MAX_REQUEST || strlen(line) > len)
                        abort();
                if (control_request_parse(line, len, &o, &err) < 0) {
                        if (!err || o)
                                abort();
                } else if (!o || !json_object_is_type(o, json_type_object) || err) {
                        abort();
                }
                json_object_put(o);
                free(err);
        }
        if (r < 0 && r != -EMSGSIZE)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct control_input in = {};
        size_t step, off = 0;

        if (size == 0)
                return 0;
        step = (size_t)data[0] * 97 + 1; /* receive sizes from 1 to ~24 KiB */
        data++;
        size--;
        while (off < size) {
                char *buf;
                size_t room, n;

                if (control_input_space(&in, &buf, &room) < 0)
                        break; /* an over-long line: the server closes the client here */
                n = MIN(MIN(room, step), size - off);
                memcpy(buf, data + off, n);
                control_input_commit(&in, n);
                off += n;
                use_lines(&in);
        }
        control_input_done(&in);
        return 0;
}
