/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Incremental framing of a QMP byte stream into JSON objects (internal to libvnuma).
 *
 * Bytes may be fed in any fragmentation: several objects in one chunk, one object split at
 * any byte. Whitespace between objects is skipped. Every top-level value must be an object.
 * Memory is bounded: a single object longer than max_object bytes fails with -EMSGSIZE before
 * more than max_object bytes of it were handed to the tokener. After a failure the framer
 * stays failed until qmp_framer_reset(): the stream position is unknown from then on. */

#include <stdbool.h>
#include <stddef.h>

#include "vnuma/basic/macro.h"

struct json_object;
struct qmp_framer;

int qmp_framer_new(size_t max_object, struct qmp_framer **ret);
void qmp_framer_free(struct qmp_framer *f);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct qmp_framer *, qmp_framer_free);

/* Takes effect for the object being assembled too. */
void qmp_framer_set_max_object(struct qmp_framer *f, size_t max_object);
/* Forget any partial object and any failure. */
void qmp_framer_reset(struct qmp_framer *f);

/* Consume bytes from buf until one object completes or buf is used up.
 * Returns 1 with *ret_object (new reference) when an object completed after *ret_consumed
 * bytes; 0 when all len bytes were consumed without completing one (*ret_object = NULL,
 * *ret_consumed = len); -EBADMSG (not JSON, or not an object) or -EMSGSIZE (object too large)
 * on failure, described by qmp_framer_error(). */
int qmp_framer_feed(struct qmp_framer *f, const void *buf, size_t len, size_t *ret_consumed,
                    struct json_object **ret_object);

/* True while the bytes of an unfinished object are held. */
bool qmp_framer_mid_object(const struct qmp_framer *f);
/* Length in bytes of the object the last successful feed completed. */
size_t qmp_framer_last_size(const struct qmp_framer *f);
/* Description of the failure, or NULL if the framer has not failed. */
const char *qmp_framer_error(const struct qmp_framer *f);
