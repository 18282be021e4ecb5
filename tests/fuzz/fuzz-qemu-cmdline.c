/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /proc/PID/cmdline "-numa" arguments (NUL-separated, possibly unterminated). */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz.h"
#include "vnuma/qemu/qemu-cmdline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_(numa_args_freep) struct numa_args *a = NULL;

        if (numa_args_parse((const char *)data, size, &a) == 0)
                for (unsigned i = 0; i < a->n_nodes; i++)
                        (void)numa_args_memdev(a, a->nodes[i].nodeid);
        return 0;
}
