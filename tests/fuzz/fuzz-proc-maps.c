/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /proc/PID/maps and smaps parser, and the coverage check built on it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vnuma/host/proc-maps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *text = fuzz_strndup(data, size);
        _cleanup_(proc_maps_freep) struct proc_maps *m = NULL;
        uint64_t page;

        if (!text)
                return 0;
        if (proc_maps_parse(text, &m, NULL) == 0 && m->n_maps > 0)
                (void)proc_maps_covers(m, m->maps[0].start, m->maps[m->n_maps - 1].end, &page);
        return 0;
}
