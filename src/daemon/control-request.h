/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The control socket's input side, without I/O: one request per line, each line a JSON object
 * of bounded size and depth. Internal to vnumad; the unit tests link this file directly. */

#include <stdbool.h>
#include <stddef.h>

#define CONTROL_MAX_REQUEST 65536u /* bytes of one request line, its newline not counted */
#define CONTROL_MAX_DEPTH   16     /* JSON nesting levels of one request */
#define CONTROL_MAX_ECHO    64     /* bytes of a client's string quoted back in a reply */

struct json_object;

/* Bytes received from one client and not yet used. The buffer is allocated on the first byte
 * and never grows beyond CONTROL_MAX_REQUEST + 1. */
struct control_input {
        char *buf;
        size_t start;   /* first byte not handed out as a line yet */
        size_t len;     /* bytes held, including the used ones before start */
        size_t scanned; /* buf[start..scanned) holds no newline */
};

/* Where to receive into: *ret_len > 0 bytes at *ret_buf. Moves the unused bytes to the front
 * first. -EMSGSIZE when the pending line already fills the limit. */
int control_input_space(struct control_input *in, char **ret_buf, size_t *ret_len);
/* n bytes were received into the space. */
void control_input_commit(struct control_input *in, size_t n);
/* The next complete line: 1 with *ret_line (NUL-terminated, without "\n" or "\r\n"; valid until
 * the next control_input_space()); 0 while the line is incomplete; -EMSGSIZE when it has
 * more than CONTROL_MAX_REQUEST bytes. Lines of only white space are skipped. */
int control_input_next(struct control_input *in, char **ret_line, size_t *ret_len);
void control_input_done(struct control_input *in);

/* One request line into a JSON object (new reference). -EBADMSG for anything that is not a
 * single JSON object in strict JSON and valid UTF-8; -E2BIG when nested deeper than
 * CONTROL_MAX_DEPTH. *ret_error describes the problem (and names the limit). */
int control_request_parse(const char *line, size_t len, struct json_object **ret, char **ret_error);

/* The request's "arguments" (new reference): the member itself, or a new empty object when the
 * request has none, as QMP allows, so every command sees an object. -EBADMSG when "arguments"
 * is there but not an object (null included); *ret_error says so. */
int control_request_arguments(struct json_object *req, struct json_object **ret, char **ret_error);

/* s cut to at most max bytes at a UTF-8 character boundary, with "..." appended if it was cut:
 * what a reply may quote of a client's string. New string, NULL when out of memory. */
char *control_echo(const char *s, size_t max);
