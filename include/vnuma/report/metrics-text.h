/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The Prometheus text exposition format: label values are escaped (backslash, double quote and
 * line feed as \\, \" and \n), so a VM name can never end a label or start a new sample. */

#include <stddef.h>

#define PROM_LABEL_MAX 512

/* s escaped into buf (of size bytes, NUL-terminated); cut before an escape that would not fit.
 * Returns buf. */
const char *prom_label_escape(char *buf, size_t size, const char *s);
/* For one fprintf argument: the buffer lives until the end of the enclosing block. */
#define PROM_LABEL(s) prom_label_escape((char[PROM_LABEL_MAX]){0}, PROM_LABEL_MAX, (s))
