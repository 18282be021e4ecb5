/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Strings from outside (a QEMU's -name, a socket's file name, a libvirt domain name) made safe
 * to print: on a terminal, in a log line, in a table. */

#include <stdbool.h>
#include <stddef.h>

/* The longest QEMU name shown: anything longer is cut. */
#define DISPLAY_NAME_MAX 64

/* A copy of s with every byte that is not printable ASCII (0x20..0x7e) replaced by '?', cut to
 * at most max bytes. -ENOMEM only. */
int string_sanitize(const char *s, size_t max, char **ret);
/* In place, the same replacement; no cut. */
void string_sanitize_inplace(char *s);
/* Whether s is non-empty printable ASCII of at most max bytes. */
bool string_is_printable(const char *s, size_t max);

/* In place: control characters that a terminal acts on become '?': C0 (but tab, and line feed
 * when keep_newlines), DEL, and C1 in its UTF-8 form (U+0080..U+009F: ESC's 8-bit cousins, CSI
 * among them). Other UTF-8 text is left alone. For text that is printed as a whole. */
void string_neutralize_controls(char *s, size_t len, bool keep_newlines);
