/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* HMP "gpa2hva" and "info numa" replies. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vnuma/qemu/hmp-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *text = fuzz_strndup(data, size), *region = NULL;
        _cleanup_(info_numa_freep) struct info_numa *n = NULL;
        uint64_t hva;

        if (!text)
                return 0;
        (void)gpa2hva_parse(text, &hva, &region);
        (void)info_numa_parse(text, &n);
        return 0;
}
