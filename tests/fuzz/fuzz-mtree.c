/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* HMP "info mtree -f" parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vnuma/qemu/mtree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *text = fuzz_strndup(data, size);
        _cleanup_(mtree_freep) struct mtree *t = NULL;
        unsigned line = 0;

        if (!text)
                return 0;
        if (mtree_parse(text, &t, &line) == 0)
                for (size_t i = 0; i < t->n_ranges; i++)
                        (void)mtree_bytes_of(t, t->ranges[i].name);
        return 0;
}
