/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vnuma/basic/macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parsers take C strings: cut at the first NUL, as reading a text file would. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
        return strndup((const char *)data, size);
}
