/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Strict number parsing: whole string, no sign surprises, -EINVAL/-ERANGE on failure. */

#include <stdint.h>

int safe_atou64(const char *s, uint64_t *ret);
int safe_atoi(const char *s, int *ret);
/* Hex with or without 0x prefix. */
int safe_atox64(const char *s, uint64_t *ret);
/* "256MiB", "1G", "4096", "2 GiB" -> bytes. Units are binary (K=KiB). */
int parse_size(const char *s, uint64_t *ret);
